# Firescope. `make run` starts the whole system on a local control plane; `make test` runs
# every test. Tools are pinned by version and built from the Go module proxy into bin/.

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

# Pinned versions. The control plane versions are pinned by the tools modules in hack/tools/;
# these names only label the directory they are built into.
KUBERNETES_VERSION ?= v1.37.2
ETCD_VERSION ?= v3.7.3
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CRD_REF_DOCS_VERSION ?= v0.3.0
HELM_VERSION ?= v4.3.2
KREW_VERSION ?= v0.4.3

LOCALBIN := $(CURDIR)/bin
CONTROL_PLANE := $(LOCALBIN)/k8s-$(KUBERNETES_VERSION)-etcd-$(ETCD_VERSION)
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
CRD_REF_DOCS := $(LOCALBIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)
HELM := $(LOCALBIN)/helm-$(HELM_VERSION)
# golangci-lint and kube-api-linter are pinned by hack/tools/golangci-lint/go.mod.
GOLANGCI_LINT := $(LOCALBIN)/golangci-lint
KREW := $(LOCALBIN)/krew-$(KREW_VERSION)
VALIDATE_KREW_MANIFEST := $(LOCALBIN)/validate-krew-manifest-$(KREW_VERSION)
export KUBEBUILDER_ASSETS := $(CONTROL_PLANE)
# test/install renders the chart with this Helm; test/dist checks the krew manifest with krew.
export HELM KREW VALIDATE_KREW_MANIFEST

# Go test flags; e.g. `make test GOTESTFLAGS=-v`.
GOTESTFLAGS ?=

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and webhook configuration from the Go types and markers.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: api-docs
api-docs: $(CRD_REF_DOCS) ## Generate the API reference, docs/api-reference.md, from the Go types.
	"$(CRD_REF_DOCS)" --source-path=./api --config=hack/api-docs/config.yaml --renderer=markdown --output-path=docs/api-reference.md --log-level=ERROR

.PHONY: chart
chart: ## Write the Helm chart's files (charts/firescope/files) from the kustomize install in config/.
	hack/chart.sh

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

GENERATED := api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml config/webhook/manifests.yaml docs/api-reference.md charts/firescope/files

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (.golangci.yml), with the Kubernetes API conventions linter on api/.
	"$(GOLANGCI_LINT)" run --allow-serial-runners ./...

.PHONY: verify
verify: $(CONTROLLER_GEN) $(CRD_REF_DOCS) $(GOLANGCI_LINT) ## Fail when generated files are stale, gofmt would change code or golangci-lint finds something.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@large=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576 && $$2 !~ /(^|\/)testdata\//{print $$2}'); \
	test -z "$$large" || { echo "tracked files over 1 MiB outside testdata/ (build outputs belong in bin/, which git ignores): $$large"; exit 1; }
	@before=$$(find $(GENERATED) -type f | sort | xargs sha256sum); \
	$(MAKE) -s manifests generate api-docs chart >/dev/null; \
	after=$$(find $(GENERATED) -type f | sort | xargs sha256sum); \
	test "$$before" = "$$after" || { echo "generated files were stale: 'make manifests generate api-docs chart' updated them; commit the result"; exit 1; }
	@"$(GOLANGCI_LINT)" run --allow-serial-runners ./...

.PHONY: test
test: verify vet test-deps control-plane build images dist $(HELM) $(KREW) $(VALIDATE_KREW_MANIFEST) ## Run unit, integration (real API server) and end-to-end tests.
	go test $(GOTESTFLAGS) -count=1 ./...

.PHONY: bench
bench: control-plane build test-deps ## Run every benchmark (about 25 minutes); docs/development.md lists them.
	go run ./test/bench/timeline -n 200 -writers 8 -burst 300
	go run ./test/bench/reminders -n 1000 -for 45s
	go run ./test/bench/scale -n 10000 -namespaces 50 -drills 500 -for 60s
	go run ./test/bench/writecost -n 2000
	go run ./test/bench/publish -n 200
	go run ./test/bench/ratelimit -n 20 -min-gap 1s -fail-writes 0.3
	go run ./test/bench/statuspage
	go run ./test/bench/statuspage-memory
	go run ./test/bench/statuspage-postgres
	go run ./test/bench/postmortem -n 200
	go run ./test/bench/day
	go run ./test/bench/declare -n 50
	go run ./test/bench/failover -kills 10
	go run ./test/bench/wording
	go run ./test/bench/gateway -n 200
	go run ./test/bench/alerts -n 100
	go run ./test/bench/drill -drills 2 -every 300ms
	go run ./test/bench/health -n 1,100,1000

##@ Build

.PHONY: build
build: ## Build the binaries into bin/.
	go build -o bin/manager ./cmd/manager
	go build -o bin/localcluster ./cmd/localcluster
	go build -o bin/statuspage ./cmd/statuspage
	go build -o bin/kubectl-incident ./cmd/kubectl-incident
	go build -o bin/gateway ./cmd/gateway

# Docker images: the manager (in dist/install.yaml), the status page (config/statuspage) and
# the gateway (config/gateway).
IMG ?= firescope/manager:dev
STATUSPAGE_IMG ?= firescope/statuspage:dev
GATEWAY_IMG ?= firescope/gateway:dev

# `make images` tags the images <IMAGE_REPOSITORY>/<name>:<IMAGE_TAG>, as the manifests name them.
IMAGE_REPOSITORY ?= firescope
IMAGE_TAG ?= dev

.PHONY: images
images: ## Build the manager, status page and gateway images for linux/amd64 and linux/arm64 as OCI image layouts in bin/images/, without Docker.
	go build -C hack/tools/image -o "$(LOCALBIN)/image" .
	"$(LOCALBIN)/image" -out "$(LOCALBIN)/images" -repository "$(IMAGE_REPOSITORY)" -version "$(IMAGE_TAG)" \
	  -revision "$$(git rev-parse HEAD)" -created "$$(git log -1 --format=%ct)" \
	  manager=./cmd/manager statuspage=./cmd/statuspage:8080 gateway=./cmd/gateway:8081

# `make dist` versions the plugin DIST_VERSION (semver) and names DIST_URL as where its
# archives are published.
DIST_VERSION ?= v0.0.0-dev
DIST_URL ?= https://firescope.dev/releases/download/$(DIST_VERSION)

.PHONY: dist
dist: ## Write the kubectl incident plugin's archives (linux, darwin; amd64, arm64), their sums and its krew manifest into dist/.
	VERSION="$(DIST_VERSION)" URL="$(DIST_URL)" hack/dist.sh

.PHONY: build-installer
build-installer: manifests ## Write dist/install.yaml (config/default, with the manager image IMG).
	mkdir -p dist
	kubectl kustomize config/default | sed 's|image: firescope/manager:dev$$|image: $(IMG)|' > dist/install.yaml

.PHONY: docker-build
docker-build: ## Build the manager image IMG, the status page and the gateway images (needs Docker).
	docker build -t $(IMG) .
	docker build --target statuspage -t $(STATUSPAGE_IMG) .
	docker build --target gateway -t $(GATEWAY_IMG) .

.PHONY: run
run: control-plane build ## Run Firescope on a local control plane (or on the cluster in KUBECONFIG).
	bin/localcluster --assets "$(CONTROL_PLANE)"

##@ Tools

.PHONY: control-plane
control-plane: ## Build kube-apiserver, kube-controller-manager and etcd from source into bin/ (once).
	hack/build-control-plane.sh "$(CONTROL_PLANE)"

.PHONY: test-deps
test-deps: ## Install Debian's chromium, wrk, nginx, postgresql, prometheus (promtool), prometheus-alertmanager, ca-certificates, podman and runc for the browser, PostgreSQL, alert, intake and image tests and the benchmarks (once).
	hack/install-test-deps.sh

$(CONTROLLER_GEN):
	GOBIN="$(LOCALBIN)/.tmp" go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv "$(LOCALBIN)/.tmp/controller-gen" "$@"

$(CRD_REF_DOCS):
	GOBIN="$(LOCALBIN)/.tmp" go install github.com/elastic/crd-ref-docs@$(CRD_REF_DOCS_VERSION)
	mv "$(LOCALBIN)/.tmp/crd-ref-docs" "$@"

.PHONY: helm
helm: $(HELM) ## Build Helm from the Go module proxy into bin/ (once).

$(HELM):
	GOBIN="$(LOCALBIN)/.tmp" go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	mv "$(LOCALBIN)/.tmp/helm" "$@"

# Built from the tools module, so that its go.mod pins both; rebuilt when the pin changes.
$(GOLANGCI_LINT): hack/tools/golangci-lint/go.mod hack/tools/golangci-lint/main.go
	go build -C hack/tools/golangci-lint -o "$@" .

.PHONY: krew
krew: $(KREW) $(VALIDATE_KREW_MANIFEST) ## Build krew and its manifest validator from the Go module proxy into bin/ (once).

$(KREW):
	GOBIN="$(LOCALBIN)/.tmp" go install sigs.k8s.io/krew/cmd/krew@$(KREW_VERSION)
	mv "$(LOCALBIN)/.tmp/krew" "$@"

$(VALIDATE_KREW_MANIFEST):
	GOBIN="$(LOCALBIN)/.tmp" go install sigs.k8s.io/krew/cmd/validate-krew-manifest@$(KREW_VERSION)
	mv "$(LOCALBIN)/.tmp/validate-krew-manifest" "$@"
