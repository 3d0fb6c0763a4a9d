{{/* Release-scoped base name: the release name, prefixed unless it already says "health". */}}
{{- define "health.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "health.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "health.labels" -}}
{{ include "health.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Metadata of a namespaced object: name "<fullname>-<component>" and the common labels.
     Call with (list $ "component"). */}}
{{- define "health.metadata" -}}
{{- $ := index . 0 -}}
{{- $component := index . 1 -}}
name: {{ include "health.fullname" $ }}-{{ $component }}
namespace: {{ $.Release.Namespace }}
labels:
  {{- include "health.labels" $ | nindent 2 }}
  app.kubernetes.io/component: {{ $component }}
{{- end -}}

{{/* "repository@sha256:..." for images.<key>. Fails while any image lacks its repository or
     digest, naming every missing value at once. Call with (list $ "key"). */}}
{{- define "health.image" -}}
{{- $ := index . 0 -}}
{{- $key := index . 1 -}}
{{- $missing := list -}}
{{- range $name := list "api" "frontend" "databaseMigration" "postgres" -}}
{{- $image := index $.Values.images $name -}}
{{- if not $image.repository }}{{ $missing = append $missing (printf "images.%s.repository" $name) }}{{ end -}}
{{- if not $image.digest }}{{ $missing = append $missing (printf "images.%s.digest" $name) }}{{ end -}}
{{- end -}}
{{- if $missing -}}
{{- $first := first $missing -}}
{{- $example := ternary "<registry>/<namespace>/<image>" "sha256:<64 hex digits>" (hasSuffix ".repository" $first) -}}
{{- fail (printf "image values not set: %s. The chart deploys every image by repository and digest: set each repository (without tag) and the sha256 digest its build reported, e.g. --set %s=%s" (join ", " $missing) $first $example) -}}
{{- end -}}
{{- $image := index $.Values.images $key -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- end -}}

{{- define "health.isOpenShift" -}}
{{- if eq .Values.platform "openshift" -}}true{{- end -}}
{{- end -}}

{{/* Pod-level security context. On OpenShift the restricted SCC picks the UIDs, so none are set.
     Call with (list $ uid). */}}
{{- define "health.podSecurityContext" -}}
{{- $ := index . 0 -}}
{{- $uid := index . 1 -}}
runAsNonRoot: true
seccompProfile:
  type: RuntimeDefault
{{- if not (include "health.isOpenShift" $) }}
runAsUser: {{ $uid }}
runAsGroup: {{ $uid }}
fsGroup: {{ $uid }}
{{- end }}
{{- end -}}

{{- define "health.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* libpq environment shared by the API and the migration Job. */}}
{{- define "health.databaseEnv" -}}
- name: PGHOST
  value: {{ include "health.fullname" . }}-postgres
- name: PGPORT
  value: "5432"
- name: PGDATABASE
  value: {{ .Values.postgres.database | quote }}
- name: PGUSER
  value: {{ .Values.postgres.user | quote }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "health.fullname" . }}-postgres
      key: password
{{- end -}}

{{/* Host the application is exposed on; empty when the platform should choose or match any. */}}
{{- define "health.host" -}}
{{- if .Values.expose.host -}}
{{- .Values.expose.host -}}
{{- else if .Values.expose.subdomain -}}
{{- printf "%s.%s" .Release.Name .Values.expose.subdomain -}}
{{- end -}}
{{- end -}}
