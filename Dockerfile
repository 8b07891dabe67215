# Firescope images, built from source with the Go toolchain only.
#
#   docker build -t firescope/manager:dev .                               # the manager (default)
#   docker build --target statuspage -t firescope/statuspage:dev .        # the status page
#   docker build --target gateway -t firescope/gateway:dev .              # the chat gateway
#
# All are static binaries on distroless/static, running as the non-root user 65532.
# Override BASE_IMAGE to build from another registry, e.g. docker.io/library/golang:1.26.
ARG BASE_IMAGE=golang:1.26
FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download

# The source (.dockerignore keeps out everything else, tests included).
COPY . .

# Static binaries (no cgo) for the target platform, cross-compiled on the build platform.
ENV CGO_ENABLED=0
RUN GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager && \
    GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/statuspage ./cmd/statuspage && \
    GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/gateway ./cmd/gateway

# The status page: serves on :8080, keeps its data file on a volume (--data).
FROM gcr.io/distroless/static:nonroot AS statuspage
WORKDIR /
COPY --from=builder /out/statuspage /statuspage
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/statuspage"]

# The chat gateway: serves Slack's requests on :8081.
FROM gcr.io/distroless/static:nonroot AS gateway
WORKDIR /
COPY --from=builder /out/gateway /gateway
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/gateway"]

# The manager, last so that it is the default target.
FROM gcr.io/distroless/static:nonroot AS manager
WORKDIR /
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
