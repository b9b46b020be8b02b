{{/* The gateway pod, shared by the StatefulSet (SQLite) and the Deployment (PostgreSQL). */}}
{{- define "registry-gateway.podTemplate" -}}
metadata:
  labels:
    {{- /* The selector labels win, so no extra label can take the pod out of its own selector. */}}
    {{- $labels := merge (include "registry-gateway.selectorLabels" . | fromYaml) (deepCopy .Values.podLabels) (deepCopy .Values.commonLabels) }}
    {{- toYaml $labels | nindent 4 }}
  annotations:
    # Only restart-requiring keys: tokens and the other live keys are reloaded from the
    # mounted files, so rotating a token rolls no pod.
    checksum/config: {{ include "registry-gateway.restartChecksum" . }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "registry-gateway.serviceAccountName" . }}
  # Only Kubeapps, Flux and Kargo kubernetes mode and a Knative sink.ref talk to the Kubernetes API.
  automountServiceAccountToken: {{ if or (include "registry-gateway.kubeappsKubernetesMode" .) (include "registry-gateway.knativeSinkRef" .) (include "registry-gateway.gitopsKubernetesMode" .) }}true{{ else }}false{{ end }}
  # preStop sleep + the gateway's own drain (server.shutdownTimeoutSeconds) + slack, so the
  # kubelet never kills the process while it is still closing the store.
  terminationGracePeriodSeconds: {{ add .Values.server.shutdownTimeoutSeconds 15 }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- with .Values.initContainers }}
  initContainers:
    {{- tpl (toYaml .) $ | nindent 4 }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: registry-gateway
      image: {{ include "registry-gateway.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["serve", "--config", "{{ include "registry-gateway.configDir" . }}/values.yaml"]
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.server.port }}
          protocol: TCP
        # The console and /metrics: a Service of their own, never the webhook one.
        - name: admin
          containerPort: {{ include "registry-gateway.adminPort" . }}
          protocol: TCP
      {{- $env := list }}
      {{- $secrets := dict "BRIGADE_API_TOKEN" .Values.existingSecrets.brigadeApiToken "KNATIVE_BROKER_URL" .Values.existingSecrets.knativeBrokerURL "KUBEAPPS_TOKEN" .Values.existingSecrets.kubeappsToken "FLUX_RECEIVER_TOKEN" .Values.existingSecrets.fluxReceiverToken }}
      {{- if include "registry-gateway.postgres" . }}
      {{- $_ := set $secrets "DATABASE_URL" .Values.delivery.postgres.urlSecret }}
      {{- end }}
      {{- range $name := keys $secrets | sortAlpha }}
      {{- $ref := get $secrets $name }}
      {{- if $ref.name }}
      {{- $env = append $env (dict "name" $name "valueFrom" (dict "secretKeyRef" (dict "name" $ref.name "key" $ref.key))) }}
      {{- end }}
      {{- end }}
      {{- range .Values.existingSecrets.webhookSecrets }}
      {{- $env = append $env (dict "name" .env "valueFrom" (dict "secretKeyRef" (dict "name" .name "key" .key))) }}
      {{- end }}
      {{- $heap := include "registry-gateway.nodeOptions" . }}
      {{- $ownNodeOptions := false }}
      {{- range .Values.extraEnv }}{{ if eq .name "NODE_OPTIONS" }}{{ $ownNodeOptions = true }}{{ end }}{{ end }}
      {{- if and $heap (not $ownNodeOptions) }}
      {{- $env = append $env (dict "name" "NODE_OPTIONS" "value" $heap) }}
      {{- end }}
      {{- $env = concat $env .Values.extraEnv }}
      {{- with $env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- $scheme := include "registry-gateway.scheme" . | upper }}
      {{- $healthz := dict "httpGet" (dict "path" "/healthz" "port" "http" "scheme" $scheme) }}
      {{- if .Values.startupProbe.enabled }}
      startupProbe:
        {{- toYaml (merge (omit .Values.startupProbe "enabled") (deepCopy $healthz)) | nindent 8 }}
      {{- end }}
      livenessProbe:
        {{- toYaml (merge (deepCopy .Values.livenessProbe) (deepCopy $healthz)) | nindent 8 }}
      readinessProbe:
        {{- toYaml (merge (deepCopy .Values.readinessProbe) (dict "httpGet" (dict "path" "/readyz" "port" "http" "scheme" $scheme))) | nindent 8 }}
      lifecycle:
        preStop:
          # Lets endpoints and ingress controllers drop the pod before it stops accepting.
          exec:
            command: ["sleep", "5"]
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        # Whole directories, never subPath: the kubelet updates a Secret volume by swapping a
        # symlink, which is what the gateway watches to reload tokens.
        - name: config
          mountPath: {{ include "registry-gateway.configDir" . }}
          readOnly: true
        {{- if include "registry-gateway.tokensMounted" . }}
        - name: tokens
          mountPath: {{ include "registry-gateway.tokensDir" . }}
          readOnly: true
        {{- end }}
        {{- if include "registry-gateway.tls" . }}
        - name: tls
          mountPath: {{ include "registry-gateway.tlsDir" . }}
          readOnly: true
        {{- end }}
        {{- if .Values.existingSecrets.consoleTokens.name }}
        - name: console-tokens
          mountPath: {{ include "registry-gateway.consoleTokensDir" . }}
          readOnly: true
        {{- end }}
        - name: data
          mountPath: {{ .Values.delivery.dir }}
        # SQLite may spill temporary files; the root filesystem is read-only.
        - name: tmp
          mountPath: /tmp
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- with .Values.sidecars }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
  volumes:
    - name: config
      secret:
        secretName: {{ include "registry-gateway.fullname" . }}
    {{- if include "registry-gateway.tokensMounted" . }}
    - name: tokens
      secret:
        secretName: {{ include "registry-gateway.tokenSecretName" . }}
    {{- end }}
    {{- if include "registry-gateway.tls" . }}
    - name: tls
      secret:
        secretName: {{ include "registry-gateway.tlsSecretName" . }}
    {{- end }}
    {{- with .Values.existingSecrets.consoleTokens.name }}
    - name: console-tokens
      secret:
        secretName: {{ . }}
    {{- end }}
    - name: tmp
      emptyDir: {}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if include "registry-gateway.postgres" . }}
    # The events live in PostgreSQL; the directory only has to exist.
    - name: data
      emptyDir: {}
    {{- else if .Values.persistence.existingClaim }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ .Values.persistence.existingClaim }}
    {{- else if not .Values.persistence.enabled }}
    - name: data
      emptyDir: {}
    {{- end }}
  {{- if include "registry-gateway.postgres" . }}
  topologySpreadConstraints:
    {{- if .Values.topologySpreadConstraints }}
    {{- toYaml .Values.topologySpreadConstraints | nindent 4 }}
    {{- else }}
    # ScheduleAnyway: a single-node or single-zone cluster still runs every replica.
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "registry-gateway.selectorLabels" . | nindent 10 }}
    - maxSkew: 1
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "registry-gateway.selectorLabels" . | nindent 10 }}
    {{- end }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
