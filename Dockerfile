# A static odbench image: no C library, no shell, a non-root user. The build
# is stamped with its version and commit (the image has no .git):
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse HEAD) \
#                -t registry.example/odbench:$(git describe --tags --always --dirty) .
#   docker run --rm registry.example/odbench:<that tag> version
#
# (make image does the first.) .dockerignore keeps results, binaries and
# .git out of the build context.
FROM golang:1.26 AS build
ARG VERSION=dev
ARG COMMIT=
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-X github.com/odbench/odbench/internal/cli.version=${VERSION} -X github.com/odbench/odbench/internal/cli.commit=${COMMIT}" \
      -o /odbench ./cmd/odbench

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /odbench /odbench
USER 65532:65532
ENTRYPOINT ["/odbench"]
