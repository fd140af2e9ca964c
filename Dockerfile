# syntax=docker/dockerfile:1
#
# The capstone binary on distroless: static, no shell, runs as nonroot
# (65532). Nothing is written inside the image at run time except by the
# embedded store, to CAPSTONE_DATA_DIR=/data; the Kubernetes Deployments use
# MONGODB_URI and a read-only root filesystem (with an emptyDir at /tmp).
#
# Needs BuildKit (cache mounts):
#   DOCKER_BUILDKIT=1 docker build -t capstone:dev .
#   docker run --rm -p 8080:8080 -v capstone-data:/data -e CAPSTONE_BOOTSTRAP_EMAIL=coordinator@uni.example -e CAPSTONE_BOOTSTRAP_PASSWORD='change me now please' capstone:dev
#
# Both base images are pinned by digest (the tag says what it is, the digest
# which image it is), so a build uses the images that were reviewed, and a
# new base image arrives as a reviewable change of this file. To move to the
# current images:
#   docker buildx imagetools inspect golang:1.26 --format '{{json .Manifest.Digest}}'
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot --format '{{json .Manifest.Digest}}'

# ferretdb_no_postgresql leaves out the embedded store's PostgreSQL backend,
# which the service never uses (it runs FerretDB on SQLite, or talks to
# MongoDB): some 4 MB less code mapped from the binary, about 1.5 MiB less
# resident memory in every process.

FROM --platform=$BUILDPLATFORM golang:1.26@sha256:595c7847cff97c9a9e76f015083c481d26078f961c9c8dca3923132f51fe12f1 AS build
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
    go build -trimpath -ldflags='-s -w' -tags ferretdb_no_postgresql -o /out/capstone ./cmd/capstone \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/capstone /capstone
COPY --from=build --chown=65532:65532 /out/data /data
ENV CAPSTONE_DATA_DIR=/data
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/capstone"]
CMD ["serve"]
