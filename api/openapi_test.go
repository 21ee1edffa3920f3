package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/sso"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/xapi"
)

// Every route the server registers must be in the OpenAPI document, and
// the document must name no route that does not exist.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	// Stores without a database: only the routes are needed here.
	s, err := New(Options{BaseURL: "http://localhost", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Accounts: account.NewStore(nil), Progress: study.NewProgress(nil), Feedback: feedback.NewStore(nil),
		Media: media.NewCatalog(nil, nil, media.Options{}), Exam: exam.NewStore(nil, nil),
		Certificates: cert.NewStore(nil, nil, cert.Options{}),
		Mail:         mail.NewOutbox(nil, MailRenderer(), "", true), Directory: org.NewDirectory(nil), Assign: assign.NewStore(nil),
		SSO: sso.New(sso.Options{}), LTI: lti.New(lti.Options{}), XAPI: xapi.New(xapi.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	registered := map[string]bool{}
	for _, r := range s.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		// A wildcard is a content path with its slashes: {path}.
		path := strings.ReplaceAll(param.ReplaceAllString(r.Path, "{$1}"), "*", "{path}")
		key := strings.ToLower(r.Method) + " " + path
		registered[key] = true
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is missing from openapi.json", r.Method, path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if !registered[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the server does not serve", strings.ToUpper(method), path)
			}
		}
	}
}
