{{/* Names and labels shared by every object of the chart. */}}

{{- define "gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "gateway.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "gateway.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The secret files the gateway reads, each from an existing Secret: name, key, file. */}}
{{- define "gateway.secretFiles" -}}
{{- $files := list }}
{{- with .Values.introspection.clientSecret }}{{ if .existingSecret }}{{ $files = append $files (dict "secret" .existingSecret "key" .key "file" "client.secret") }}{{ end }}{{ end }}
{{- with .Values.admin.tokenSecret }}{{ if .existingSecret }}{{ $files = append $files (dict "secret" .existingSecret "key" .key "file" "admin.token") }}{{ end }}{{ end }}
{{- with .Values.redis.passwordSecret }}{{ if .existingSecret }}{{ $files = append $files (dict "secret" .existingSecret "key" .key "file" "redis.password") }}{{ end }}{{ end }}
{{- toJson $files }}
{{- end }}
