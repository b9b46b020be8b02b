{{/* The chart name, shortened to fit Kubernetes' 63-character name limit. */}}
{{- define "registry-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "registry-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "registry-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "registry-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "registry-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "registry-gateway.testLabels" -}}
app.kubernetes.io/name: {{ include "registry-gateway.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}

{{/*
The version label: the tag without any "@sha256:..." pinned to it, in label-value characters
and at most 63 of them, so a digest never makes the object invalid.
*/}}
{{- define "registry-gateway.versionLabel" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- $tag = regexReplaceAll "@.*$" $tag "" }}
{{- regexReplaceAll "[^A-Za-z0-9._-]" $tag "_" | trunc 63 | trimSuffix "-" | trimSuffix "_" | trimSuffix "." }}
{{- end }}

{{/* The chart's labels win over commonLabels: selectors and tooling rely on them. */}}
{{- define "registry-gateway.labels" -}}
{{- $own := printf "helm.sh/chart: %s\n%s\napp.kubernetes.io/version: %s\napp.kubernetes.io/managed-by: %s" (include "registry-gateway.chart" .) (include "registry-gateway.selectorLabels" .) (include "registry-gateway.versionLabel" . | quote) .Release.Service | fromYaml }}
{{- toYaml (merge $own (deepCopy .Values.commonLabels)) }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest pins it. */}}
{{- define "registry-gateway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "registry-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "registry-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Kubeapps kubernetes mode: the pod acts on AppRepositories with its own credentials. */}}
{{- define "registry-gateway.kubeappsKubernetesMode" -}}
{{- if and .Values.emitters.kubeapps.enabled (eq .Values.emitters.kubeapps.mode "kubernetes") }}true{{ end }}
{{- end }}

{{/* Flux (kubernetes mode) or Kargo: the pod lists and annotates objects with its own credentials. */}}
{{- define "registry-gateway.gitopsKubernetesMode" -}}
{{- if or (and .Values.emitters.flux.enabled (eq .Values.emitters.flux.mode "kubernetes")) .Values.emitters.kargo.enabled }}true{{ end }}
{{- end }}

{{/* Knative sink.ref: the pod reads the referenced object with its own credentials. */}}
{{- define "registry-gateway.knativeSinkRef" -}}
{{- if and .Values.emitters.knative.enabled .Values.emitters.knative.sink.ref.name }}true{{ end }}
{{- end }}

{{/*
The API group and resource of the kind sink.ref names (ADDRESSABLE_KINDS in
src/emitters/knative-sink.ts), as "group/resource"; the core group is empty.
*/}}
{{- define "registry-gateway.knativeSinkResource" -}}
{{- $ref := .Values.emitters.knative.sink.ref }}
{{- $known := dict "eventing.knative.dev/v1 Broker" "eventing.knative.dev/brokers" "serving.knative.dev/v1 Service" "serving.knative.dev/services" "messaging.knative.dev/v1 Channel" "messaging.knative.dev/channels" "messaging.knative.dev/v1 InMemoryChannel" "messaging.knative.dev/inmemorychannels" "v1 Service" "/services" }}
{{- $key := printf "%s %s" $ref.apiVersion $ref.kind }}
{{- if not (hasKey $known $key) }}
{{- fail (printf "emitters.knative.sink.ref %q is not a kind the gateway resolves: %s" $key (keys $known | sortAlpha | join ", ")) }}
{{- end }}
{{- get $known $key }}
{{- end }}

{{- define "registry-gateway.postgres" -}}
{{- if eq (.Values.delivery.store | default "sqlite") "postgres" }}true{{ end }}
{{- end }}

{{- define "registry-gateway.replicas" -}}
{{- if include "registry-gateway.postgres" . }}{{ .Values.replicaCount | default 2 }}{{ else }}1{{ end }}
{{- end }}

{{/* Tokens given in values, less the ones set to null (Helm's way of removing a key). */}}
{{- define "registry-gateway.valueTokenNames" -}}
{{- $names := list }}
{{- range $name, $token := .Values.tokens }}
{{- if not (kindIs "invalid" $token) }}{{ $names = append $names $name }}{{ end }}
{{- end }}
{{- $names | sortAlpha | join " " }}
{{- end }}

{{/* No token anywhere: the chart makes one (token-secret.yaml). */}}
{{- define "registry-gateway.generatedToken" -}}
{{- if and (not .Values.tokensSecret.name) (not (include "registry-gateway.valueTokenNames" .)) }}true{{ end }}
{{- end }}

{{- define "registry-gateway.tokenSecretName" -}}
{{- if .Values.tokensSecret.name }}{{ .Values.tokensSecret.name }}{{ else }}{{ include "registry-gateway.fullname" . }}-token{{ end }}
{{- end }}

{{- define "registry-gateway.tokensMounted" -}}
{{- if or .Values.tokensSecret.name (include "registry-gateway.generatedToken" .) }}true{{ end }}
{{- end }}

{{- define "registry-gateway.tls" -}}
{{- if ne (.Values.tls.mode | default "none") "none" }}true{{ end }}
{{- end }}

{{- define "registry-gateway.tlsSecretName" -}}
{{- .Values.tls.secretName | default (printf "%s-tls" (include "registry-gateway.fullname" .)) }}
{{- end }}

{{- define "registry-gateway.scheme" -}}
{{- if include "registry-gateway.tls" . }}https{{ else }}http{{ end }}
{{- end }}

{{- define "registry-gateway.servicePort" -}}
{{- .Values.service.port | default (ternary 443 80 (eq (include "registry-gateway.scheme" .) "https")) }}
{{- end }}

{{/* The names the gateway's certificate must carry: the Service's, and the public host. */}}
{{- define "registry-gateway.dnsNames" -}}
{{- $fullname := include "registry-gateway.fullname" . }}
{{- $names := list $fullname (printf "%s.%s" $fullname .Release.Namespace) (printf "%s.%s.svc" $fullname .Release.Namespace) (printf "%s.%s.svc.cluster.local" $fullname .Release.Namespace) }}
{{- if .Values.host }}{{ $names = append $names .Values.host }}{{ end }}
{{- concat $names .Values.tls.dnsNames | uniq | toJson }}
{{- end }}

{{/* The gateway's admin listener (console, /metrics): always separate in the chart. */}}
{{- define "registry-gateway.adminPort" -}}
{{- .Values.server.adminPort | default 9090 }}
{{- end }}

{{- define "registry-gateway.configDir" -}}/etc/registry-gateway{{- end }}
{{- define "registry-gateway.consoleTokensDir" -}}/etc/registry-gateway-console{{- end }}
{{- define "registry-gateway.tokensDir" -}}/etc/registry-gateway-tokens{{- end }}
{{- define "registry-gateway.tlsDir" -}}/etc/registry-gateway-tls{{- end }}

{{/*
The gateway's config: these very values (less Helm's `global`, no gateway key), with the keys
the chart wires up itself: where the tokens file and the certificate are mounted.
*/}}
{{- define "registry-gateway.config" -}}
{{- $config := deepCopy (omit .Values "global") }}
{{- if include "registry-gateway.tokensMounted" . }}
{{- $key := ternary "tokens.yaml" .Values.tokensSecret.key (empty .Values.tokensSecret.name) }}
{{- $_ := set $config "tokensFile" (printf "%s/%s" (include "registry-gateway.tokensDir" .) $key) }}
{{- end }}
{{- if include "registry-gateway.tls" . }}
{{- $dir := include "registry-gateway.tlsDir" . }}
{{- $_ := set $config.server "tls" (dict "enabled" true "certPath" (printf "%s/tls.crt" $dir) "keyPath" (printf "%s/tls.key" $dir)) }}
{{- end }}
{{- $_ := set $config.server "adminPort" (include "registry-gateway.adminPort" . | int) }}
{{- with .Values.existingSecrets.consoleTokens.name }}
{{- $_ := set $config.console "tokensFile" (printf "%s/%s" (include "registry-gateway.consoleTokensDir" $) $.Values.existingSecrets.consoleTokens.key) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
What a running gateway cannot take over without a restart (RESTART_KEYS in
src/config/reload.ts). Only these go into the pods' checksum, so changing a token or an alias
rolls no pod: the gateway reloads them from the mounted files.
*/}}
{{- define "registry-gateway.restartChecksum" -}}
{{- $config := include "registry-gateway.config" . | fromYaml }}
{{- pick $config "tokensFile" "emitters" "delivery" "requests" "server" "logLevel" | toYaml | sha256sum }}
{{- end }}

{{/*
Values the chart cannot turn into a working pod. The gateway checks its own keys when it
starts; these are the ones where the chart's wiring depends on the value, caught at render time.
*/}}
{{- define "registry-gateway.checkValues" -}}
{{- if not (hasPrefix "/" .Values.delivery.dir) }}
{{- fail (printf "delivery.dir %q must be an absolute path: the chart mounts the store's volume there" .Values.delivery.dir) }}
{{- end }}
{{- if .Values.server.tls.enabled }}
{{- fail "server.tls.enabled: the chart sets it from tls.mode (selfSigned, secret or certManager); leave server.tls alone" }}
{{- end }}
{{- if .Values.tokensFile }}
{{- fail "tokensFile: the chart sets it from tokensSecret; name your Secret there" }}
{{- end }}
{{- if .Values.console.tokensFile }}
{{- fail "console.tokensFile: the chart sets it from existingSecrets.consoleTokens; name your Secret there" }}
{{- end }}
{{- if eq (include "registry-gateway.adminPort" . | int) (.Values.server.port | int) }}
{{- fail "server.adminPort must differ from server.port: it keeps the console and /metrics off the webhook port" }}
{{- end }}
{{- if and (eq .Values.tls.mode "secret") (not .Values.tls.secretName) }}
{{- fail "tls.mode secret needs tls.secretName: an existing kubernetes.io/tls Secret" }}
{{- end }}
{{- if and (eq .Values.tls.mode "certManager") (not .Values.tls.issuerRef.name) }}
{{- fail "tls.mode certManager needs tls.issuerRef.name: the Issuer or ClusterIssuer that signs the certificate" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.host) }}
{{- fail "ingress.enabled needs host: the public name registries post to" }}
{{- end }}
{{- if not (include "registry-gateway.postgres" .) }}
{{- if .Values.autoscaling.enabled }}
{{- fail "autoscaling.enabled needs delivery.store postgres: the SQLite store is a file in one pod's volume, so a second pod would have a store of its own, dedup only what it receives, and strand its undelivered events when scaled away" }}
{{- end }}
{{- if and .Values.replicaCount (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount above 1 needs delivery.store postgres: the SQLite store is a file in one pod's volume, so each pod would keep and dedup its own share of events" }}
{{- end }}
{{- end }}
{{- if and (include "registry-gateway.postgres" .) (not .Values.delivery.postgres.url) (not .Values.delivery.postgres.urlSecret.name) }}
{{- fail "delivery.store postgres needs the database: delivery.postgres.urlSecret (a Secret you manage) or delivery.postgres.url" }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if has .name (list "PORT" "DELIVERY_DIR" "DATABASE_URL") }}
{{- fail (printf "extraEnv: %s would move the gateway away from what the chart wires up; set server.port, delivery.dir or delivery.postgres.urlSecret instead" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
How `helm test` proves the install, as YAML: the provider it pings (one with a ping the gateway
answers 200 without storing anything) and where its Bearer token comes from: `secret` (a
Secret key holding the raw token), `inline` (a token value in values, copied into a test
Secret), or `tokensFile` (the operator's tokensSecret, mounted, the CLI picking `tokenName` or
else any token allowed for the provider). Empty when no token could pass (only signature, path
or OIDC tokens): then there is no test, and NOTES says so.
*/}}
{{- define "registry-gateway.testPlan" -}}
{{- $pingable := list "acr" "harbor" "distribution" "ecr" }}
{{- if .Values.helmTest.tokenSecret.name }}
provider: acr
source: secret
secretName: {{ .Values.helmTest.tokenSecret.name }}
key: {{ .Values.helmTest.tokenSecret.key }}
{{- else if include "registry-gateway.generatedToken" . }}
provider: acr
source: secret
secretName: {{ include "registry-gateway.tokenSecretName" . }}
key: token
{{- else }}
{{- $plan := dict }}
{{- range $name := include "registry-gateway.valueTokenNames" . | splitList " " }}
{{- $token := get $.Values.tokens $name }}
{{- if and (not $plan.provider) $name }}
{{- $spec := ternary (dict "value" $token) $token (kindIs "string" $token) }}
{{- if has ($spec.verify | default "bearer") (list "bearer") }}
{{- $provider := "" }}
{{- range $pingable }}{{ if and (not $provider) (or (not $spec.providers) (has . $spec.providers)) }}{{ $provider = . }}{{ end }}{{ end }}
{{- if and $provider (or $spec.value $.Values.tokensSecret.name) }}
{{- $_ := set $plan "provider" $provider }}
{{- if $spec.value }}
{{- $_ := set $plan "source" "inline" }}
{{- $_ := set $plan "value" $spec.value }}
{{- else }}
{{- $_ := set $plan "source" "tokensFile" }}
{{- $_ := set $plan "tokenName" $name }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (not $plan.provider) .Values.tokensSecret.name (not (include "registry-gateway.valueTokenNames" .)) }}
{{- /* Every token lives in the Secret: the CLI picks one allowed for ACR there. */}}
{{- $_ := set $plan "provider" "acr" }}
{{- $_ := set $plan "source" "tokensFile" }}
{{- end }}
{{- if $plan.provider }}
{{- toYaml $plan }}
{{- end }}
{{- end }}
{{- end }}


{{/*
Node's heap bounds from resources.limits.memory, as NODE_OPTIONS: old space 60% of the limit and
semi-spaces of 1/32 of it (2 to 16 MiB). V8 sizes its heap from the node's memory, not the
container's, and grows each of its young generation's semi-spaces to 64 MiB under request load
(Node 24), which alone took the gateway past 190 MiB in `make bench`; bounded, V8 collects before
the kernel's OOM killer acts. The rest of the limit is for the delivery worker's heap, SQLite's
cache and socket buffers. Empty without a memory limit or with a quantity it cannot read.
*/}}
{{- define "registry-gateway.nodeOptions" -}}
{{- $limit := dig "limits" "memory" "" (.Values.resources | default dict) | toString }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $limit }}
{{- if $number }}
{{- $unit := trimPrefix $number $limit }}
{{- $bytesPerUnit := dict "" 1 "k" 1000 "K" 1000 "Ki" 1024 "M" 1000000 "Mi" 1048576 "G" 1000000000 "Gi" 1073741824 }}
{{- if hasKey $bytesPerUnit $unit }}
{{- $mib := divf (mulf (float64 $number) (get $bytesPerUnit $unit)) 1048576 }}
{{- $semi := divf $mib 32 | floor | int | max 2 | min 16 }}
{{- printf "--max-old-space-size=%d --max-semi-space-size=%d" (mulf $mib 0.6 | floor | int) $semi }}
{{- end }}
{{- end }}
{{- end }}
