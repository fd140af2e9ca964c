# syntax=docker/dockerfile:1
#
# The capstone binary on distroless: static, no shell, runs as nonroot
# (65532). Nothing is written inside the image at run time except by the
# embedded store, to CAPSTONE_DATA_DIR=/data; the Kubernetes Deployments use
# MONGODB_URI and a read-only root filesystem (with an emptyDir at /tmp).
#
# Needs BuildKit (cache mounts):
#   DOCKER_BUILDKIT=1 docker build -t capstone:dev .
#   docker run --rm -p 8080:8080 -v capstone-data:/data capstone:dev   # embedded store

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /out/capstone ./cmd/capstone \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/capstone /capstone
COPY --from=build --chown=65532:65532 /out/data /data
ENV CAPSTONE_DATA_DIR=/data
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/capstone"]
CMD ["serve"]
