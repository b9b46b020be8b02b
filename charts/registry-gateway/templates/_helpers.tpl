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

{{- define "registry-gateway.labels" -}}
helm.sh/chart: {{ include "registry-gateway.chart" . }}
{{ include "registry-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
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

{{/*
Values the chart cannot turn into a working pod. The gateway checks its own keys when it
starts; these are the ones where the chart's wiring depends on the value, caught at render time.
*/}}
{{- define "registry-gateway.checkValues" -}}
{{- if not .Values.tokens }}
{{- fail "tokens: set at least one token (see the comment on tokens in values.yaml); the gateway refuses to start without one" }}
{{- end }}
{{- if not (hasPrefix "/" .Values.delivery.dir) }}
{{- fail (printf "delivery.dir %q must be an absolute path: the chart mounts the store's volume there" .Values.delivery.dir) }}
{{- end }}
{{- if .Values.server.tls.enabled }}
{{- fail "server.tls.enabled: the chart cannot mount a certificate into the pod yet; terminate TLS at the Ingress (ingress.tlsSecretName) instead" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.host) }}
{{- fail "ingress.enabled needs host: the public name registries post to" }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if has .name (list "PORT" "DELIVERY_DIR") }}
{{- fail (printf "extraEnv: %s would move the gateway away from the port and volume the chart wires up; set server.port or delivery.dir instead" .name) }}
{{- end }}
{{- end }}
{{- end }}
