# syntax=docker/dockerfile:1
# Build:  docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t ticketd .
# Run:    docker run --rm -p 8080:8080 -e PLATFORM_API_KEY=... -e MIGRATIONS_DATABASE_URL=... ticketd

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ticketd ./cmd/ticketd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ticketd /ticketd
USER nonroot:nonroot
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["/ticketd"]
CMD ["serve"]
