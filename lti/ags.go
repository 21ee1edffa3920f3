package lti

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tyokyky/tyokyky/internal/retry"
)

// Assignment and Grade Services 2.0: the claim and the scopes.
const (
	ClaimAGSEndpoint = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
	ScopeLineItem    = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
	ScopeResult      = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
	ScopeScore       = "https://purl.imsglobal.org/spec/lti-ags/scope/score"

	scoreMediaType = "application/vnd.ims.lis.v1.score+json"
)

// Activity and grading progress of a score (AGS 2.0 § 3.4).
const (
	ActivityInitialized = "Initialized"
	ActivityStarted     = "Started"
	ActivityInProgress  = "InProgress"
	ActivitySubmitted   = "Submitted"
	ActivityCompleted   = "Completed"

	GradingFullyGraded = "FullyGraded"
	GradingPending     = "Pending"
	GradingNotReady    = "NotReady"
	GradingFailed      = "Failed"
)

// GradeLink is where a person's score for one resource goes: the line
// item of the resource link they launched, at their platform. A launch
// that carries the AGS endpoint claim with a line item and the score
// scope makes or refreshes it.
type GradeLink struct {
	// ID is registration|user|resource|line item (GradeLinkKey): a
	// resource placed in two of a platform's courses has two line items,
	// and a person in both gets scores in both gradebooks.
	ID           string    `bson:"_id"`
	UserID       string    `bson:"user_id"`
	Registration string    `bson:"registration"`
	Sub          string    `bson:"sub"`
	Resource     string    `bson:"resource"`
	LineItem     string    `bson:"lineitem"`
	Scopes       []string  `bson:"scopes"`
	Posted       string    `bson:"posted,omitempty"` // the last score queued
	UpdatedAt    time.Time `bson:"updated_at"`
}

// Score is a result to send: scoreGiven out of scoreMaximum with the
// activity and grading progress.
type Score struct {
	Given, Maximum    float64
	Activity, Grading string
}

func (sc Score) key() string {
	return strconv.FormatFloat(sc.Given, 'f', -1, 64) + "/" + strconv.FormatFloat(sc.Maximum, 'f', -1, 64) + "/" + sc.Activity + "/" + sc.Grading
}

// ResourceOf is the graded resource of a target path: the course ("/"),
// a module (/osiot/{module} and its sections) or the exam (/tentti…);
// "" for other pages.
func ResourceOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	path, _, _ = strings.Cut(path, "#")
	switch {
	case path == "/" || path == "" || path == "/osiot":
		return "course"
	case strings.HasPrefix(path, "/osiot/"):
		m, _, _ := strings.Cut(strings.TrimPrefix(path, "/osiot/"), "/")
		if m != "" {
			return "module:" + m
		}
	case path == "/tentti" || strings.HasPrefix(path, "/tentti/"):
		return "exam"
	}
	return ""
}

// gradeLinkOf reads the AGS endpoint claim of a resource link launch
// into a grade link ("" LineItem: the launch carries none).
func gradeLinkOf(reg *Registration, userID, sub, target string, claims jwt.MapClaims) *GradeLink {
	ep, _ := claims[ClaimAGSEndpoint].(map[string]any)
	if ep == nil {
		return nil
	}
	li, _ := ep["lineitem"].(string)
	var scopes []string
	if sc, ok := ep["scope"].([]any); ok {
		for _, s := range sc {
			if s, ok := s.(string); ok {
				scopes = append(scopes, s)
			}
		}
	}
	res := ResourceOf(target)
	if !webURL(li, true) || !slices.Contains(scopes, ScopeScore) || res == "" {
		return nil
	}
	return &GradeLink{ID: GradeLinkKey(reg.ID, userID, res, li), UserID: userID, Registration: reg.ID, Sub: sub, Resource: res, LineItem: li, Scopes: scopes}
}

// GradeLinkKey is the _id of a grade link: the registration, the person,
// the resource and (as a short hash, line items being long URLs) the
// line item.
func GradeLinkKey(registration, userID, resource, lineItem string) string {
	sum := sha256.Sum256([]byte(lineItem))
	return registration + "|" + userID + "|" + resource + "|" + hex.EncodeToString(sum[:8])
}

// ReportScore queues the score of user for a resource to every platform
// line item the person launched it from, unless that score was queued
// there already (so calling it again with the same score sends
// nothing).
func (s *Service) ReportScore(ctx context.Context, userID, resource string, sc Score) (int, error) {
	links, err := s.gradeLinks(ctx, userID, resource)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range links {
		if l.Posted == sc.key() {
			continue
		}
		if err := s.enqueueScore(ctx, &l, sc); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// ScoreFunc is a person's score for a resource now (ok false: nothing
// to report yet).
type ScoreFunc func(ctx context.Context, userID, resource string) (sc Score, ok bool, err error)

// Reconcile reports each grade link's score as scoreOf says it is now:
// what changed since it was last queued goes to the platform. Run now
// and then, it keeps the gradebooks in step with our records, whatever
// changed them (a module completed, an exam graded, a record moved).
func (s *Service) Reconcile(ctx context.Context, scoreOf ScoreFunc) (int, error) {
	links, err := s.gradeLinks(ctx, "", "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range links {
		sc, ok, err := scoreOf(ctx, l.UserID, l.Resource)
		if err != nil {
			return n, err
		}
		if !ok || l.Posted == sc.key() {
			continue
		}
		if err := s.enqueueScore(ctx, &l, sc); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// scoreBody is the score as AGS sends it.
func scoreBody(l *GradeLink, sc Score, at time.Time) map[string]any {
	return map[string]any{"userId": l.Sub, "scoreGiven": sc.Given, "scoreMaximum": sc.Maximum, "activityProgress": sc.Activity,
		"gradingProgress": sc.Grading, "timestamp": at.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
}

// scoresURL is the line item's scores endpoint: /scores after the line
// item's path, before its query.
func scoresURL(lineItem string) string {
	u, err := url.Parse(lineItem)
	if err != nil {
		return lineItem + "/scores"
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/scores"
	return u.String()
}

// accessToken is a token of the platform's for the scopes: OAuth 2
// client credentials with a JWT client assertion (RFC 7523) signed by the
// tool's key, kept until shortly before it expires.
func (s *Service) accessToken(ctx context.Context, reg *Registration, scopes []string) (string, error) {
	key := reg.ID + " " + strings.Join(scopes, " ")
	s.mu.Lock()
	if t, ok := s.tokens[key]; ok && s.now().Before(t.until) {
		s.mu.Unlock()
		return t.token, nil
	}
	s.mu.Unlock()
	now := s.now()
	assertion, _, err := s.o.Keys.Sign(jwt.MapClaims{"iss": reg.ClientID, "sub": reg.ClientID, "aud": reg.TokenURL,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": random()})
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {assertion}, "scope": {strings.Join(scopes, " ")}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, reg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return "", &deliveryError{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		// Never a refusal for good: a platform that still holds our old
		// key set after a rotation, or a clock apart, answers 400 or 401
		// for a while; the score waits and tries again (until ScoreGiveUp).
		return "", &deliveryError{status: resp.StatusCode, token: true, retryAfter: retry.After(resp.Header.Get("Retry-After"), now), err: fmt.Errorf("token endpoint: %d %s", resp.StatusCode, clip(string(body)))}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
		return "", &deliveryError{status: http.StatusBadGateway, err: errors.New("token endpoint: no bearer token in the answer")}
	}
	if tok.ExpiresIn <= 0 {
		tok.ExpiresIn = 3600
	}
	s.mu.Lock()
	s.tokens[key] = cachedToken{token: tok.AccessToken, until: now.Add(time.Duration(tok.ExpiresIn)*time.Second - 30*time.Second)}
	s.mu.Unlock()
	return tok.AccessToken, nil
}

type cachedToken struct {
	token string
	until time.Time
}

// deliveryError is a failed try: the platform's status (0: no answer)
// and the wait it asked for (429, 503 with Retry-After).
type deliveryError struct {
	status     int
	token      bool // the token endpoint's answer, not the score's
	retryAfter time.Duration
	err        error
}

func (e *deliveryError) Error() string { return e.err.Error() }

// permanent: the platform refused the score for good (a bad request,
// the scope not granted, the line item gone); a retry would not help.
func (e *deliveryError) permanent() bool {
	return !e.token && e.status >= 400 && e.status < 500 && e.status != http.StatusTooManyRequests && e.status != http.StatusRequestTimeout && e.status != http.StatusUnauthorized
}

// postScore sends one score to its line item.
func (s *Service) postScore(ctx context.Context, reg *Registration, m *scoreMessage) error {
	tok, err := s.accessToken(ctx, reg, []string{ScopeScore})
	if err != nil {
		return err
	}
	body, _ := json.Marshal(m.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scoresURL(m.LineItem), bytes.NewReader(body))
	if err != nil {
		return &deliveryError{status: http.StatusBadRequest, err: err}
	}
	req.Header.Set("Content-Type", scoreMediaType)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return &deliveryError{err: err}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// The token expired or was revoked early: the next try asks anew.
		s.mu.Lock()
		delete(s.tokens, reg.ID+" "+ScopeScore)
		s.mu.Unlock()
	}
	return &deliveryError{status: resp.StatusCode, retryAfter: retry.After(resp.Header.Get("Retry-After"), s.now()),
		err: fmt.Errorf("score to %s: %d %s", m.LineItem, resp.StatusCode, clip(string(answer)))}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}
