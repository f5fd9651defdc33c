# A static odbench image: no C library, no shell, a non-root user.
#   docker build -t odbench:latest .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /odbench ./cmd/odbench

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /odbench /odbench
USER 65532:65532
ENTRYPOINT ["/odbench"]
