// Package lrstest runs a learning record store of our own for tests: a
// real HTTP server on a free port of 127.0.0.1 speaking the xAPI 1.0.3
// statement resource (POST /statements with one statement or an array,
// PUT /statements?statementId=, GET /statements?statementId=), requiring
// Basic credentials and the X-Experience-API-Version header, and
// validating every statement against the rules of xAPI 1.0.3 (IEEE
// 9274.1.1) before storing anything: a batch with one invalid statement
// is refused whole with 400, as the specification asks. Faults on demand
// (the next requests answered 429 or 500) test the senders' retries.
package lrstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running test LRS.
type Server struct {
	// Endpoint is the LRS's xAPI endpoint (ends in a slash); statements
	// are at Endpoint + "statements".
	Endpoint           string
	Username, Password string

	srv *http.Server
	ln  net.Listener

	mu         sync.Mutex
	statements map[string]map[string]any // by id
	order      []string
	voided     map[string]string // statement id → the voiding statement's id
	batches    []int             // the sizes of the accepted POSTs
	requests   int
	refused    []string // why requests were refused (400, 401, 409)
	faults     []fault
}

type fault struct {
	status     int
	retryAfter string
}

// Start starts a test LRS; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Username: "lrs-user", Password: "lrs-Salasana-1", ln: ln, statements: map[string]map[string]any{}, voided: map[string]string{}}
	s.Endpoint = "http://" + ln.Addr().String() + "/xapi/"
	mux := http.NewServeMux()
	mux.HandleFunc("/xapi/statements", s.handle)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// Fail answers the next n requests with status (429, 500, 503…),
// with a Retry-After header when retryAfter is not "".
func (s *Server) Fail(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, retryAfter: retryAfter})
	}
}

// Statements are the stored statements in the order they arrived.
func (s *Server) Statements() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.statements[id])
	}
	return out
}

// Statement is the stored statement with the id, or nil.
func (s *Server) Statement(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statements[id]
}

// VoidedBy is the id of the statement that voided id ("" if none).
func (s *Server) VoidedBy(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.voided[id]
}

// Batches are the sizes of the accepted POST requests, in order.
func (s *Server) Batches() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// Requests is how many requests reached the statement resource.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Refused are the reasons of the refused requests, in order.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

func (s *Server) refuse(w http.ResponseWriter, status int, msg string) {
	s.refused = append(s.refused, fmt.Sprintf("%d %s", status, msg))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": true, "message": msg})
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	w.Header().Set("X-Experience-API-Version", "1.0.3")
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		http.Error(w, http.StatusText(f.status), f.status)
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != s.Username || p != s.Password {
		w.Header().Set("WWW-Authenticate", `Basic realm="lrstest"`)
		s.refuse(w, http.StatusUnauthorized, "Basic credentials required")
		return
	}
	if v := r.Header.Get("X-Experience-API-Version"); !strings.HasPrefix(v, "1.0.") {
		s.refuse(w, http.StatusBadRequest, "the X-Experience-API-Version header is missing or not 1.0.x: "+v)
		return
	}
	switch r.Method {
	case http.MethodGet:
		st := s.statements[r.URL.Query().Get("statementId")]
		if st == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	case http.MethodPost, http.MethodPut:
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			s.refuse(w, http.StatusBadRequest, "Content-Type must be application/json: "+ct)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			s.refuse(w, http.StatusBadRequest, err.Error())
			return
		}
		var list []map[string]any
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) > 0 && trimmed[0] == '[' {
			err = json.Unmarshal(trimmed, &list)
		} else {
			var one map[string]any
			err = json.Unmarshal(trimmed, &one)
			list = []map[string]any{one}
		}
		if err != nil || len(list) == 0 {
			s.refuse(w, http.StatusBadRequest, "the body is not a statement or an array of statements")
			return
		}
		if r.Method == http.MethodPut {
			id := r.URL.Query().Get("statementId")
			if len(list) != 1 || !isUUID(id) {
				s.refuse(w, http.StatusBadRequest, "PUT takes one statement and a statementId")
				return
			}
			if got, ok := list[0]["id"]; ok && got != id {
				s.refuse(w, http.StatusBadRequest, "the statement's id is not the statementId")
				return
			}
			list[0]["id"] = id
		}
		ids, status, msg := s.store(list)
		if status != http.StatusOK {
			s.refuse(w, status, msg)
			return
		}
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		s.batches = append(s.batches, len(list))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ids)
	default:
		w.Header().Set("Allow", "GET, POST, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// store validates a batch and stores it whole or not at all.
func (s *Server) store(list []map[string]any) ([]string, int, string) {
	seen := map[string]bool{}
	for i, st := range list {
		if err := Validate(st); err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("statement %d (%v): %v", i, st["id"], err)
		}
		id, _ := st["id"].(string)
		if id == "" {
			continue
		}
		id = strings.ToLower(id)
		if seen[id] {
			return nil, http.StatusBadRequest, fmt.Sprintf("statement %d: the id %s is twice in the batch", i, id)
		}
		seen[id] = true
		if old := s.statements[id]; old != nil && !sameStatement(old, st) {
			return nil, http.StatusConflict, fmt.Sprintf("statement %d: another statement has the id %s", i, id)
		}
		if target, ok := voidTarget(st); ok {
			if t := s.statements[target]; t != nil {
				if _, voiding := voidTarget(t); voiding {
					return nil, http.StatusBadRequest, fmt.Sprintf("statement %d: a voiding statement cannot be voided", i)
				}
			}
		}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	ids := make([]string, 0, len(list))
	for _, st := range list {
		id, _ := st["id"].(string)
		if id == "" {
			id = newUUID()
			st["id"] = id
		}
		id = strings.ToLower(id)
		ids = append(ids, id)
		if s.statements[id] != nil {
			continue // the same statement again: nothing changes
		}
		st["stored"] = now
		if _, ok := st["timestamp"]; !ok {
			st["timestamp"] = now
		}
		if _, ok := st["version"]; !ok {
			st["version"] = "1.0.3"
		}
		s.statements[id] = st
		s.order = append(s.order, id)
		if target, ok := voidTarget(st); ok {
			s.voided[target] = id
		}
	}
	return ids, http.StatusOK, ""
}

// sameStatement compares a stored statement with one sent again,
// without what the LRS adds (stored, authority, version, and the
// timestamp when the new one has none).
func sameStatement(stored, again map[string]any) bool {
	a, b := map[string]any{}, map[string]any{}
	for k, v := range stored {
		a[k] = v
	}
	for k, v := range again {
		b[k] = v
	}
	for _, k := range []string{"stored", "authority", "version"} {
		delete(a, k)
		delete(b, k)
	}
	if _, ok := again["timestamp"]; !ok {
		delete(a, "timestamp")
	}
	return reflect.DeepEqual(a, b)
}

const voidedVerb = "http://adlnet.gov/expapi/verbs/voided"

// voidTarget is the statement a voiding statement voids.
func voidTarget(st map[string]any) (string, bool) {
	verb, _ := st["verb"].(map[string]any)
	if verb == nil || verb["id"] != voidedVerb {
		return "", false
	}
	obj, _ := st["object"].(map[string]any)
	id, _ := obj["id"].(string)
	return strings.ToLower(id), true
}

func newUUID() string {
	var b [16]byte
	n := time.Now().UnixNano()
	for i := range b {
		b[i] = byte(n >> (i % 8 * 8))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// The rules.

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)
	langTagRE  = regexp.MustCompile(`^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?$`)
	durationRE = regexp.MustCompile(`^P(?:(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?D)?(?:T(?:\d+(?:[.,]\d+)?H)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?S)?)?|\d+(?:[.,]\d+)?W)$`)
	mboxRE     = regexp.MustCompile(`^mailto:[^@\s]+@[^@\s]+$`)
	sha1RE     = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	schemeRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)
	// a timestamp: ISO 8601 with a time zone; -00:00 is refused (1.0.3
	// Part 2 § 4.5).
	timestampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$`)
)

func isUUID(s string) bool { return uuidRE.MatchString(s) }

// isIRI: an absolute IRI (a scheme, then something), without spaces.
func isIRI(v any) bool {
	s, ok := v.(string)
	if !ok || s == "" || strings.ContainsAny(s, " \t\r\n<>\"{}|\\^`") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || !schemeRE.MatchString(u.Scheme) {
		return false
	}
	return u.Opaque != "" || u.Host != "" || u.Path != ""
}

// IsDuration tells whether s is an ISO 8601 duration as xAPI takes it.
func IsDuration(s string) bool {
	return durationRE.MatchString(s) && !strings.HasSuffix(s, "T") && s != "P"
}

type checker struct{ errs []string }

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// only refuses properties outside allowed.
func (c *checker) only(where string, m map[string]any, allowed ...string) {
	for k := range m {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			c.fail("%s: unknown property %q", where, k)
		}
	}
}

func (c *checker) object(where string, v any) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		c.fail("%s: not an object", where)
	}
	return m
}

func (c *checker) languageMap(where string, v any) {
	m := c.object(where, v)
	for k, val := range m {
		if !langTagRE.MatchString(k) {
			c.fail("%s: %q is not an RFC 5646 language tag", where, k)
		}
		if _, ok := val.(string); !ok {
			c.fail("%s[%s]: not a string", where, k)
		}
	}
}

// Validate checks a statement against the rules of xAPI 1.0.3: the
// required properties, no unknown ones, IRIs, UUIDs, language maps,
// timestamps, durations, scores and the voiding rules.
func Validate(st map[string]any) error {
	c := &checker{}
	if st == nil {
		return errors.New("not a statement")
	}
	c.only("statement", st, "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version", "attachments")
	if id, ok := st["id"]; ok {
		if s, _ := id.(string); !isUUID(s) {
			c.fail("id %v is not a UUID", id)
		}
	}
	for _, req := range []string{"actor", "verb", "object"} {
		if _, ok := st[req]; !ok {
			c.fail("%s is required", req)
		}
	}
	if a, ok := st["actor"]; ok {
		c.actor("actor", a)
	}
	verbID := ""
	if v, ok := st["verb"]; ok {
		verb := c.object("verb", v)
		c.only("verb", verb, "id", "display")
		if !isIRI(verb["id"]) {
			c.fail("verb.id %v is not an IRI", verb["id"])
		}
		verbID, _ = verb["id"].(string)
		if d, ok := verb["display"]; ok {
			c.languageMap("verb.display", d)
		}
	}
	objType := ""
	if o, ok := st["object"]; ok {
		objType = c.statementObject("object", o, false)
	}
	if verbID == voidedVerb && objType != "StatementRef" {
		c.fail("a voiding statement's object is a StatementRef")
	}
	if r, ok := st["result"]; ok {
		c.result(r)
	}
	if x, ok := st["context"]; ok {
		c.context(x, objType)
	}
	for _, k := range []string{"timestamp", "stored"} {
		if v, ok := st[k]; ok {
			s, _ := v.(string)
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil || !timestampRE.MatchString(s) || strings.HasSuffix(s, "-00:00") {
				c.fail("%s %v is not an ISO 8601 timestamp with a time zone", k, v)
			}
		}
	}
	if v, ok := st["version"]; ok {
		if s, _ := v.(string); !strings.HasPrefix(s, "1.0.") {
			c.fail("version %v is not 1.0.x", v)
		}
	}
	if a, ok := st["authority"]; ok {
		c.actor("authority", a)
	}
	if len(c.errs) > 0 {
		return errors.New(strings.Join(c.errs, "; "))
	}
	return nil
}

// actor checks an Agent or a Group.
func (c *checker) actor(where string, v any) {
	m := c.object(where, v)
	if m == nil {
		return
	}
	typ, _ := m["objectType"].(string)
	if typ == "" {
		typ = "Agent"
	}
	switch typ {
	case "Agent":
		c.only(where, m, "objectType", "name", "mbox", "mbox_sha1sum", "openid", "account")
		if c.ifis(where, m) != 1 {
			c.fail("%s: an Agent has exactly one inverse functional identifier", where)
		}
	case "Group":
		c.only(where, m, "objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", "member")
		n := c.ifis(where, m)
		if n > 1 {
			c.fail("%s: a Group has at most one inverse functional identifier", where)
		}
		members, _ := m["member"].([]any)
		if n == 0 && len(members) == 0 {
			c.fail("%s: an anonymous Group lists its members", where)
		}
		for i, mem := range members {
			if mm, _ := mem.(map[string]any); mm != nil && mm["objectType"] == "Group" {
				c.fail("%s.member[%d]: a Group's members are Agents", where, i)
			}
			c.actor(fmt.Sprintf("%s.member[%d]", where, i), mem)
		}
	default:
		c.fail("%s: objectType %q is not Agent or Group", where, typ)
	}
	if n, ok := m["name"]; ok {
		if _, s := n.(string); !s {
			c.fail("%s.name: not a string", where)
		}
	}
}

// ifis counts and checks the inverse functional identifiers.
func (c *checker) ifis(where string, m map[string]any) int {
	n := 0
	if v, ok := m["mbox"]; ok {
		n++
		if s, _ := v.(string); !mboxRE.MatchString(s) {
			c.fail("%s.mbox %v is not a mailto IRI", where, v)
		}
	}
	if v, ok := m["mbox_sha1sum"]; ok {
		n++
		if s, _ := v.(string); !sha1RE.MatchString(s) {
			c.fail("%s.mbox_sha1sum is not a SHA-1 in hex", where)
		}
	}
	if v, ok := m["openid"]; ok {
		n++
		if !isIRI(v) {
			c.fail("%s.openid is not a URI", where)
		}
	}
	if v, ok := m["account"]; ok {
		n++
		acc := c.object(where+".account", v)
		c.only(where+".account", acc, "homePage", "name")
		if hp, _ := acc["homePage"].(string); !isIRI(hp) || !strings.HasPrefix(hp, "http") {
			c.fail("%s.account.homePage %v is not an IRL", where, acc["homePage"])
		}
		if name, _ := acc["name"].(string); name == "" {
			c.fail("%s.account.name is required", where)
		}
	}
	return n
}

// statementObject checks a statement's object and returns its type.
func (c *checker) statementObject(where string, v any, sub bool) string {
	m := c.object(where, v)
	if m == nil {
		return ""
	}
	typ, _ := m["objectType"].(string)
	if typ == "" {
		typ = "Activity"
	}
	switch typ {
	case "Activity":
		c.activity(where, m)
	case "Agent", "Group":
		c.actor(where, m)
	case "StatementRef":
		c.only(where, m, "objectType", "id")
		if s, _ := m["id"].(string); !isUUID(s) {
			c.fail("%s.id %v is not a UUID", where, m["id"])
		}
	case "SubStatement":
		if sub {
			c.fail("%s: a SubStatement cannot hold another", where)
		}
		c.only(where, m, "objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments")
		for _, req := range []string{"actor", "verb", "object"} {
			if _, ok := m[req]; !ok {
				c.fail("%s.%s is required", where, req)
			}
		}
		c.actor(where+".actor", m["actor"])
		c.statementObject(where+".object", m["object"], true)
	default:
		c.fail("%s: objectType %q is not allowed", where, typ)
	}
	return typ
}

func (c *checker) activity(where string, m map[string]any) {
	c.only(where, m, "objectType", "id", "definition")
	if !isIRI(m["id"]) {
		c.fail("%s.id %v is not an IRI", where, m["id"])
	}
	d, ok := m["definition"]
	if !ok {
		return
	}
	def := c.object(where+".definition", d)
	c.only(where+".definition", def, "name", "description", "type", "moreInfo", "extensions", "interactionType", "correctResponsesPattern", "choices", "scale", "source", "target", "steps")
	for _, k := range []string{"name", "description"} {
		if v, ok := def[k]; ok {
			c.languageMap(where+".definition."+k, v)
		}
	}
	for _, k := range []string{"type", "moreInfo"} {
		if v, ok := def[k]; ok && !isIRI(v) {
			c.fail("%s.definition.%s %v is not an IRI", where, k, v)
		}
	}
	c.extensions(where+".definition.extensions", def["extensions"])
}

func (c *checker) extensions(where string, v any) {
	if v == nil {
		return
	}
	for k := range c.object(where, v) {
		if !isIRI(k) {
			c.fail("%s: the key %q is not an IRI", where, k)
		}
	}
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok && !math.IsNaN(f) && !math.IsInf(f, 0)
}

func (c *checker) result(v any) {
	m := c.object("result", v)
	c.only("result", m, "score", "success", "completion", "response", "duration", "extensions")
	for _, k := range []string{"success", "completion"} {
		if x, ok := m[k]; ok {
			if _, b := x.(bool); !b {
				c.fail("result.%s is not a boolean", k)
			}
		}
	}
	if x, ok := m["response"]; ok {
		if _, s := x.(string); !s {
			c.fail("result.response is not a string")
		}
	}
	if x, ok := m["duration"]; ok {
		if s, _ := x.(string); !IsDuration(s) {
			c.fail("result.duration %v is not an ISO 8601 duration", x)
		}
	}
	c.extensions("result.extensions", m["extensions"])
	sc, ok := m["score"]
	if !ok {
		return
	}
	score := c.object("result.score", sc)
	c.only("result.score", score, "scaled", "raw", "min", "max")
	vals := map[string]float64{}
	for k, x := range score {
		f, ok := number(x)
		if !ok {
			c.fail("result.score.%s is not a number", k)
			continue
		}
		vals[k] = f
	}
	if s, ok := vals["scaled"]; ok && (s < -1 || s > 1) {
		c.fail("result.score.scaled %v is outside -1…1", s)
	}
	lo, hasMin := vals["min"]
	hi, hasMax := vals["max"]
	if hasMin && hasMax && lo >= hi {
		c.fail("result.score.min is not below max")
	}
	if raw, ok := vals["raw"]; ok {
		if hasMin && raw < lo || hasMax && raw > hi {
			c.fail("result.score.raw %v is outside min…max", raw)
		}
	}
}

func (c *checker) context(v any, objType string) {
	m := c.object("context", v)
	c.only("context", m, "registration", "instructor", "team", "contextActivities", "revision", "platform", "language", "statement", "extensions")
	if x, ok := m["registration"]; ok {
		if s, _ := x.(string); !isUUID(s) {
			c.fail("context.registration %v is not a UUID", x)
		}
	}
	if x, ok := m["instructor"]; ok {
		c.actor("context.instructor", x)
	}
	if x, ok := m["team"]; ok {
		if t := c.object("context.team", x); t != nil && t["objectType"] != "Group" {
			c.fail("context.team is a Group")
		}
	}
	for _, k := range []string{"revision", "platform"} {
		if x, ok := m[k]; ok {
			if _, s := x.(string); !s {
				c.fail("context.%s is not a string", k)
			}
			if objType != "Activity" {
				c.fail("context.%s is used only when the object is an Activity, not a %s", k, objType)
			}
		}
	}
	if x, ok := m["language"]; ok {
		if s, _ := x.(string); !langTagRE.MatchString(s) {
			c.fail("context.language %v is not an RFC 5646 tag", x)
		}
	}
	if x, ok := m["statement"]; ok {
		ref := c.object("context.statement", x)
		if ref["objectType"] != "StatementRef" || !isUUID(fmt.Sprint(ref["id"])) {
			c.fail("context.statement is a StatementRef")
		}
	}
	c.extensions("context.extensions", m["extensions"])
	if x, ok := m["contextActivities"]; ok {
		ca := c.object("context.contextActivities", x)
		c.only("context.contextActivities", ca, "parent", "grouping", "category", "other")
		for k, list := range ca {
			items, isList := list.([]any)
			if !isList {
				items = []any{list} // a single activity is allowed, as an array of one
			}
			for i, it := range items {
				a := c.object(fmt.Sprintf("context.contextActivities.%s[%d]", k, i), it)
				if a != nil {
					if t, _ := a["objectType"].(string); t != "" && t != "Activity" {
						c.fail("context.contextActivities.%s[%d] is an Activity", k, i)
					}
					c.activity(fmt.Sprintf("context.contextActivities.%s[%d]", k, i), a)
				}
			}
		}
	}
}
