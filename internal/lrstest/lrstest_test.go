package lrstest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func good() map[string]any {
	return map[string]any{
		"id":    "4b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d",
		"actor": map[string]any{"objectType": "Agent", "account": map[string]any{"homePage": "https://kurssi.example", "name": "u1"}},
		"verb":  map[string]any{"id": "http://adlnet.gov/expapi/verbs/passed", "display": map[string]any{"fi-FI": "läpäisi", "sv-SE": "godkändes", "en-US": "passed"}},
		"object": map[string]any{"objectType": "Activity", "id": "https://kurssi.example/tentti",
			"definition": map[string]any{"type": "http://adlnet.gov/expapi/activities/assessment", "name": map[string]any{"fi-FI": "Tentti"}}},
		"result": map[string]any{"score": map[string]any{"scaled": 0.8, "raw": 16.0, "min": 0.0, "max": 20.0}, "success": true, "completion": true, "duration": "PT14M3.5S"},
		"context": map[string]any{"registration": "0d9f0a3c-6a1b-4c2d-8e3f-4a5b6c7d8e9f", "platform": "Työkyky", "language": "fi-FI",
			"contextActivities": map[string]any{"parent": []any{map[string]any{"id": "https://kurssi.example/osiot", "objectType": "Activity"}}}},
		"timestamp": "2026-12-07T10:15:00.123Z",
	}
}

// set changes one property at a dotted path of a copy of good().
func set(path string, v any) map[string]any {
	st := good()
	parts := strings.Split(path, ".")
	m := st
	for _, p := range parts[:len(parts)-1] {
		m = m[p].(map[string]any)
	}
	if v == nil {
		delete(m, parts[len(parts)-1])
	} else {
		m[parts[len(parts)-1]] = v
	}
	return st
}

func TestValidateAcceptsAGoodStatement(t *testing.T) {
	if err := Validate(good()); err != nil {
		t.Fatal(err)
	}
	void := map[string]any{"id": "5b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d", "actor": map[string]any{"mbox": "mailto:tool@kurssi.example"},
		"verb": map[string]any{"id": voidedVerb}, "object": map[string]any{"objectType": "StatementRef", "id": "4b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d"}}
	if err := Validate(void); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"P1Y2M3DT4H5M6S", "PT0S", "P3W", "PT1.25S", "P1D"} {
		if !IsDuration(d) {
			t.Errorf("%s refused", d)
		}
	}
}

func TestValidateRefusesEachBrokenRule(t *testing.T) {
	cases := map[string]map[string]any{
		"id not a UUID":     set("id", "not-a-uuid"),
		"no actor":          set("actor", nil),
		"no verb":           set("verb", nil),
		"no object":         set("object", nil),
		"unknown top-level": set("extra", "x"),
		"two IFIs":          set("actor.mbox", "mailto:a@b.fi"),
		"no IFI":            set("actor.account", nil),
		"mbox without mailto": func() map[string]any {
			st := set("actor.account", nil)
			st["actor"].(map[string]any)["mbox"] = "a@b.fi"
			return st
		}(),
		"homePage not an IRL":          set("actor.account.homePage", "kurssi"),
		"account without name":         set("actor.account.name", nil),
		"verb id not an IRI":           set("verb.id", "passed"),
		"display key not a tag":        set("verb.display", map[string]any{"suomi kieli": "x"}),
		"object id not an IRI":         set("object.id", "tentti"),
		"type not an IRI":              set("object.definition.type", "assessment"),
		"duration not ISO 8601":        set("result.duration", "14 minutes"),
		"duration empty":               set("result.duration", "PT"),
		"scaled above 1":               set("result.score.scaled", 1.5),
		"raw above max":                set("result.score.raw", 21.0),
		"min not below max":            set("result.score.min", 20.0),
		"success not a boolean":        set("result.success", "yes"),
		"timestamp not ISO 8601":       set("timestamp", "7.12.2026 10:15"),
		"timestamp -00:00":             set("timestamp", "2026-12-07T10:15:00-00:00"),
		"registration not a UUID":      set("context.registration", "r1"),
		"language not a tag":           set("context.language", "suomi kieli"),
		"parent id not an IRI":         set("context.contextActivities.parent", []any{map[string]any{"id": "osiot"}}),
		"voiding an activity":          set("verb.id", voidedVerb),
		"StatementRef id":              set("object", map[string]any{"objectType": "StatementRef", "id": "x"}),
		"unknown objectType":           set("object.objectType", "Thing"),
		"platform with a StatementRef": set("object", map[string]any{"objectType": "StatementRef", "id": "5b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d"}),
	}
	for name, st := range cases {
		if err := Validate(st); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func post(t *testing.T, s *Server, method, path string, body any, auth bool, version string) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.Endpoint+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if version != "" {
		req.Header.Set("X-Experience-API-Version", version)
	}
	if auth {
		req.SetBasicAuth(s.Username, s.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestServerStoresBatchesWholeOrNotAtAll(t *testing.T) {
	s := Start(t)
	a, b := good(), good()
	b["id"] = "6b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d"
	if r := post(t, s, "POST", "statements", []any{a, b}, false, "1.0.3"); r.StatusCode != 401 {
		t.Fatalf("no credentials: %d", r.StatusCode)
	}
	if r := post(t, s, "POST", "statements", []any{a, b}, true, ""); r.StatusCode != 400 {
		t.Fatalf("no version header: %d", r.StatusCode)
	}
	bad := set("result.duration", "soon")
	bad["id"] = "7b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d"
	if r := post(t, s, "POST", "statements", []any{a, bad}, true, "1.0.3"); r.StatusCode != 400 {
		t.Fatalf("a bad statement in the batch: %d", r.StatusCode)
	}
	if len(s.Statements()) != 0 {
		t.Fatal("a refused batch stored something")
	}
	r := post(t, s, "POST", "statements", []any{a, b}, true, "1.0.3")
	var ids []string
	_ = json.NewDecoder(r.Body).Decode(&ids)
	if r.StatusCode != 200 || len(ids) != 2 || ids[1] != b["id"] || r.Header.Get("X-Experience-API-Version") != "1.0.3" {
		t.Fatalf("batch: %d %v", r.StatusCode, ids)
	}
	// The same statements again change nothing; another under a used id
	// is a conflict.
	if r := post(t, s, "POST", "statements", []any{good()}, true, "1.0.3"); r.StatusCode != 200 || len(s.Statements()) != 2 {
		t.Fatalf("the same again: %d, %d stored", r.StatusCode, len(s.Statements()))
	}
	if r := post(t, s, "POST", "statements", []any{set("result.success", false)}, true, "1.0.3"); r.StatusCode != 409 {
		t.Fatalf("another under a used id: %d", r.StatusCode)
	}
	// PUT with statementId; voiding, and a voiding statement not voided.
	void := map[string]any{"actor": map[string]any{"account": map[string]any{"homePage": "https://kurssi.example", "name": "tyokyky"}},
		"verb": map[string]any{"id": voidedVerb, "display": map[string]any{"en-US": "voided"}}, "object": map[string]any{"objectType": "StatementRef", "id": a["id"]}}
	if r := post(t, s, "PUT", "statements?statementId=8b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d", void, true, "1.0.3"); r.StatusCode != 204 {
		t.Fatalf("PUT: %d %v", r.StatusCode, s.Refused())
	}
	if s.VoidedBy(a["id"].(string)) != "8b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d" {
		t.Fatal("not voided")
	}
	void2 := map[string]any{"id": "9b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d", "actor": void["actor"], "verb": void["verb"],
		"object": map[string]any{"objectType": "StatementRef", "id": "8b8a5c2e-8d1f-5a3b-9c4d-1e2f3a4b5c6d"}}
	if r := post(t, s, "POST", "statements", []any{void2}, true, "1.0.3"); r.StatusCode != 400 {
		t.Fatalf("voiding a voiding statement: %d", r.StatusCode)
	}
	s.Fail(2, 429, "3")
	if r := post(t, s, "POST", "statements", []any{b}, true, "1.0.3"); r.StatusCode != 429 || r.Header.Get("Retry-After") != "3" {
		t.Fatalf("fault: %d", r.StatusCode)
	}
	if got := s.Batches(); len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Fatalf("batches %v", got)
	}
}
