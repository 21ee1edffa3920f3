# Työkyky – build, run and test. The two commands a newcomer needs are
# `make run` and `make test`; everything they need is installed from here.

SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GO ?= go
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
BIN := $(CURDIR)/.bin
MINIO := $(BIN)/minio
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.1.4
GOVULNCHECK := $(BIN)/govulncheck-$(GOVULNCHECK_VERSION)/govulncheck
# The offline copy of the Go vulnerability database beside the repository
# (shared/ next to the clone, as on the developers' machines and in CI).
VULNDB := $(CURDIR)/../shared/vulndb
AXE_VERSION := 4.14.1
VNU_VERSION := 26.9.27
TOOLS := $(CURDIR)/.tools
FUZZTIME ?= 30s
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run media media-tools pdf-tools build minio test test-go test-deps browser npm-tools java rdf fmt-check vet lint fuzz bench bench-reports vulncheck mod-tidy-check clean help

help:
	@echo "make run    build everything (MinIO included) and start the platform on http://localhost:8080"
	@echo "make test   install what the tests need and run every test"
	@echo "make lint   go vet, gofmt and staticcheck"
	@echo "make build  build .bin/tyokyky"
	@echo "make media  make the course's videos and podcasts and store them"

## run: build what is missing, make the course's videos and podcasts, and
## start the platform with the embedded store and a MinIO child process;
## Ctrl-C stops everything.
run: build minio media-tools
	$(BIN)/tyokyky media generate --minio-bin $(MINIO)
	$(BIN)/tyokyky serve --minio-bin $(MINIO)

## media: make the course's videos and podcasts from their scripts (speech
## by espeak-ng, slides and encoding by ffmpeg) and store them in MinIO;
## unchanged scripts are skipped. Works while the server runs.
media: build minio media-tools
	$(BIN)/tyokyky media generate --minio-bin $(MINIO)

# Debian's espeak-ng, ffmpeg (with ffprobe) and DejaVu fonts for the media
# generator, the upload probe and the media tests.
media-tools:
	@command -v espeak-ng >/dev/null && command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || { echo "Installing espeak-ng, ffmpeg and fonts…"; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends espeak-ng ffmpeg fonts-dejavu-core; }

# pdftotext (Debian's poppler-utils) reads the certificate PDFs in the tests.
pdf-tools:
	@command -v pdftotext >/dev/null || { echo "Installing poppler-utils…"; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends poppler-utils; }

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/tyokyky ./cmd/tyokyky

## minio: the real MinIO server, built once into .bin/ (about 3 minutes cold).
minio: $(MINIO)

$(MINIO):
	@echo "Building MinIO $(MINIO_VERSION) into .bin/ (once; a few minutes on a cold cache)…"
	GOBIN=$(BIN) $(GO) install github.com/minio/minio@$(MINIO_VERSION)

## test: everything CI runs: it installs what the suites need when missing
## (MinIO, Debian's chromium, a Java runtime, ffmpeg and espeak-ng,
## poppler-utils, axe-core and vnu-jar from npm), checks that go.mod and
## go.sum are tidy and that no known vulnerability is called (offline).
test: test-deps vet fmt-check mod-tidy-check vulncheck test-go

test-deps: minio browser java npm-tools rdf media-tools pdf-tools

# rapper (Debian's raptor2-utils) parses the glossary's Turtle export.
rdf:
	@command -v rapper >/dev/null || { echo "Installing raptor2-utils…"; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq raptor2-utils; }

# Debian's chromium for the browser suites; no tool downloads a browser of its own.
browser:
	@command -v chromium >/dev/null || { echo "Installing Debian's chromium…"; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

# Java for the Nu HTML Checker.
java:
	@command -v java >/dev/null || { echo "Installing a Java runtime…"; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jre-headless; }

# axe-core and the Nu HTML Checker, pinned, into the ignored .tools/.
npm-tools: $(TOOLS)/node_modules/axe-core/package.json $(TOOLS)/node_modules/vnu-jar/package.json

$(TOOLS)/node_modules/axe-core/package.json $(TOOLS)/node_modules/vnu-jar/package.json:
	@mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --no-audit --no-fund --no-save --ignore-scripts axe-core@$(AXE_VERSION) vnu-jar@$(VNU_VERSION)

test-go:
	TYOKYKY_MINIO_BIN=$(MINIO) $(GO) test -race -count=1 -timeout 40m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

lint: vet fmt-check
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## vulncheck: govulncheck over the module against the offline copy of the Go
## vulnerability database in ../shared/vulndb (vuln.go.dev is not reachable
## here). A called vulnerability (exit 3) fails; VULNCHECK_FLAGS='-show
## verbose' also lists the imported-only ones. Skipped, saying so, only when
## that folder is absent.
vulncheck:
	@if [ ! -d "$(VULNDB)" ]; then \
	  echo "vulncheck: SKIPPED: no offline vulnerability database at $(VULNDB) (put shared/vulndb beside the repository, or run govulncheck where vuln.go.dev is reachable)"; exit 0; fi; \
	db=$$(realpath "$(VULNDB)") || exit 1; \
	[ -x "$(GOVULNCHECK)" ] || GOBIN="$(dir $(GOVULNCHECK))" $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) || exit 1; \
	echo "vulncheck: govulncheck $(GOVULNCHECK_VERSION) with file://$$db"; \
	"$(GOVULNCHECK)" -db "file://$$db" $(VULNCHECK_FLAGS) ./...; rc=$$?; \
	if [ $$rc = 3 ]; then echo "vulncheck: FAILED: the code calls a known vulnerability (above); upgrade the module to its fixed version"; \
	elif [ $$rc != 0 ]; then echo "vulncheck: FAILED: govulncheck exited $$rc"; fi; \
	exit $$rc

## mod-tidy-check: `go mod tidy` must change nothing. go.mod and go.sum are
## put back as they were whatever happens, so the tree is never left modified.
mod-tidy-check:
	@tmp=$$(mktemp -d) && cp go.mod go.sum "$$tmp"/ || exit 1; \
	trap 'cmp -s go.mod "$$tmp"/go.mod || cp "$$tmp"/go.mod go.mod; cmp -s go.sum "$$tmp"/go.sum || cp "$$tmp"/go.sum go.sum; rm -rf "$$tmp"' EXIT; \
	trap 'exit 130' INT TERM; \
	$(GO) mod tidy || { echo "mod-tidy-check: FAILED: go mod tidy did not run"; exit 1; }; \
	if cmp -s go.mod "$$tmp"/go.mod && cmp -s go.sum "$$tmp"/go.sum; then echo "mod-tidy-check: go.mod and go.sum are tidy"; exit 0; fi; \
	diff -u "$$tmp"/go.mod go.mod; diff -u "$$tmp"/go.sum go.sum | head -40; \
	echo "mod-tidy-check: FAILED: go mod tidy would change go.mod/go.sum (diff above); run go mod tidy and commit the result"; exit 1

## fuzz: run every fuzz target for FUZZTIME each (make test runs their seed corpora).
fuzz:
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: load test the platform against nginx with wrk (all on 127.0.0.1),
## and 1,000 learners taking the exam on one instance and on three; each
## with BENCH_POPULATION (100,000) other learners in the store first.
## Writes the tables into docs/benchmarks.md. BENCH_DURATION=10s per wrk run.
BENCH_POPULATION ?= 100000
bench: minio
	@command -v wrk >/dev/null && [ -x /usr/sbin/nginx ] || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx-light wrk; }
	BENCH_POPULATION=$(BENCH_POPULATION) TYOKYKY_MINIO_BIN=$(MINIO) $(GO) test -tags loadbench -run 'TestLoadBench|TestExamLoad|TestStartWithPopulation' -count=1 -v -timeout 90m ./cmd/tyokyky
	$(MAKE) bench-reports

## bench-reports: the organisation reports over 100,000 synthetic learners
## in 400 units (1,000,000 progress records) on the embedded store: seeding,
## the summaries' rebuild, the cold scan, and p50/p99 of the warm report
## page and CSVs (target p99 < 200 ms). About ten minutes.
bench-reports: minio
	TYOKYKY_MINIO_BIN=$(MINIO) $(GO) test -run XXX -bench 'Reports100k' -benchtime 1x -count=1 -timeout 40m ./api/

clean:
	rm -rf $(BIN)/tyokyky
