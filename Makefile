# Työkyky – build, run and test. The two commands a newcomer needs are
# `make run` and `make test`; everything they need is installed from here.

SHELL := /bin/bash
GO ?= go
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
BIN := $(CURDIR)/.bin
MINIO := $(BIN)/minio
STATICCHECK_VERSION := v0.8.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build minio test test-go fmt-check vet lint clean help

help:
	@echo "make run    build everything (MinIO included) and start the platform on http://localhost:8080"
	@echo "make test   install what the tests need and run every test"
	@echo "make lint   go vet, gofmt and staticcheck"
	@echo "make build  build .bin/tyokyky"

## run: build what is missing and start the platform with the embedded
## store and a MinIO child process; Ctrl-C stops everything.
run: build minio
	$(BIN)/tyokyky serve --minio-bin $(MINIO)

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/tyokyky ./cmd/tyokyky

## minio: the real MinIO server, built once into .bin/ (about 3 minutes cold).
minio: $(MINIO)

$(MINIO):
	@echo "Building MinIO $(MINIO_VERSION) into .bin/ (once; a few minutes on a cold cache)…"
	GOBIN=$(BIN) $(GO) install github.com/minio/minio@$(MINIO_VERSION)

## test: everything CI runs.
test: minio vet fmt-check test-go

test-go:
	TYOKYKY_MINIO_BIN=$(MINIO) $(GO) test -race -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

lint: vet fmt-check
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf $(BIN)/tyokyky
