{{/*
firescope.render renders the objects of a file of files/ (kustomize output, hack/chart.sh),
each adjusted by firescope.adjust, with config/default's namespace replaced by the chosen one.
*/}}
{{- define "firescope.render" -}}
{{- $root := .root }}
{{- range $doc := regexSplit "(?m)^---$" ($root.Files.Get .file) -1 }}
{{- $o := fromYaml $doc }}
{{- if and $o (not $o.Error) }}
{{- if include "firescope.keep" (dict "o" $o "Values" $root.Values) }}
{{- include "firescope.adjust" (dict "o" $o "Values" $root.Values) }}
---
{{ toYaml $o | replace "firescope-system" $root.Values.namespace }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* firescope.keep is non-empty for the objects the values keep. */}}
{{- define "firescope.keep" -}}
{{- $o := .o }}
{{- if and (eq $o.kind "Namespace") (eq $o.metadata.name "firescope-system") (not .Values.createNamespace) }}
{{- else if and (eq $o.kind "PodDisruptionBudget") (lt (int .Values.replicas) 2) }}
{{- else }}keep{{ end }}
{{- end }}

{{/* firescope.adjust sets the values on an object, in place. */}}
{{- define "firescope.adjust" -}}
{{- $o := .o }}
{{- $v := .Values }}
{{- if eq $o.kind "CustomResourceDefinition" }}
{{- if $v.crds.keep }}
{{- $_ := set $o.metadata "annotations" (merge (default dict $o.metadata.annotations) (dict "helm.sh/resource-policy" "keep")) }}
{{- end }}
{{- else if and (eq $o.kind "Deployment") (eq $o.metadata.name "firescope-controller-manager") }}
{{- $_ := set $o.spec "replicas" (int $v.replicas) }}
{{- range $c := $o.spec.template.spec.containers }}
{{- if eq $c.name "manager" }}
{{- $_ := set $c "image" (printf "%s:%s" $v.image.repository $v.image.tag) }}
{{- if $v.image.pullPolicy }}
{{- $_ := set $c "imagePullPolicy" $v.image.pullPolicy }}
{{- end }}
{{- if $v.resources }}
{{- $_ := set $c "resources" $v.resources }}
{{- end }}
{{- end }}
{{- end }}
{{- else if and (eq $o.kind "Deployment") (eq $o.metadata.name "firescope-statuspage") }}
{{- range $c := $o.spec.template.spec.containers }}
{{- $_ := set $c "image" (printf "%s:%s" $v.statusPage.image.repository $v.statusPage.image.tag) }}
{{- end }}
{{- end }}
{{- end }}
