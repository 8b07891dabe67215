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
{{- else if and (eq $o.kind "Deployment") (eq $o.metadata.name "firescope-gateway") }}
{{- include "firescope.adjustGateway" (dict "o" $o "g" $v.gateway) }}
{{- else if and (eq $o.kind "ConfigMap") (eq $o.metadata.name "firescope-chat-identities") $v.gateway.identities }}
{{- $_ := set $o "data" $v.gateway.identities }}
{{- else if and (eq $o.kind "Deployment") (eq $o.metadata.name "firescope-statuspage") }}
{{- range $c := $o.spec.template.spec.containers }}
{{- $_ := set $c "image" (printf "%s:%s" $v.statusPage.image.repository $v.statusPage.image.tag) }}
{{- end }}
{{- end }}
{{- end }}

{{/* firescope.adjustGateway sets the gateway values on its Deployment, in place. */}}
{{- define "firescope.adjustGateway" -}}
{{- $g := .g }}
{{- $spec := .o.spec }}
{{- $_ := set $spec "replicas" (int $g.replicas) }}
{{- range $c := $spec.template.spec.containers }}
{{- $_ := set $c "image" (printf "%s:%s" $g.image.repository $g.image.tag) }}
{{- if $g.resources }}
{{- $_ := set $c "resources" $g.resources }}
{{- end }}
{{- $args := list }}
{{- range $a := $c.args }}
{{- $args = append $args (ternary (printf "--namespace=%s" $g.incidentNamespace) $a (hasPrefix "--namespace=" $a)) }}
{{- end }}
{{- $_ := set $c "args" $args }}
{{- end }}
{{- $s := $g.slackSecret }}
{{- range $vol := $spec.template.spec.volumes }}
{{- if eq $vol.name "slack" }}
{{- $_ := set $vol.secret "secretName" $s.name }}
{{- if or (ne $s.signingSecretKey "signing-secret") (ne $s.botTokenKey "bot-token") }}
{{- $_ := set $vol.secret "items" (list (dict "key" $s.signingSecretKey "path" "signing-secret") (dict "key" $s.botTokenKey "path" "bot-token")) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
