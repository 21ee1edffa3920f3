// Package xapi sends learning records to learning record stores (LRS)
// the administrators configured, as xAPI 1.0.3 (IEEE 9274.1.1)
// statements: launched, experienced a section, completed a module,
// answered and passed or failed the exam, earned a certificate. Actors are
// accounts on our base URL (homePage + user id), e-mail addresses only
// where an LRS is configured so. Statements are queued, one document an
// LRS and statement under the unique _id lrs|statement id (so an event
// queued twice, by any instance, is one statement), and sent by an outbox
// in batches with retries; a person's statements are voided when their
// account is deleted.
package xapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/egress"
	"github.com/tyokyky/tyokyky/internal/retry"
)

// Options configure the service.
type Options struct {
	DB *database.DB
	// KeySecret (32 bytes) seals the LRS passwords.
	KeySecret []byte
	// BaseURL is the site's address: the actors' homePage and the
	// activities' ids are under it.
	BaseURL string
	// Platform names the site in the statements' context.
	Platform string
	Sources  Sources
	// EmailOf is a person's e-mail address, for LRSs that name learners
	// by it (nil: none do).
	EmailOf func(ctx context.Context, userID string) (string, error)
	// HTTPClient posts to the LRSs (default: 30 s timeout, public
	// addresses and the Allow networks only — see internal/egress).
	HTTPClient *http.Client
	// Allow are the networks outside the public internet the default
	// client may call (an LRS on the organisation's intranet).
	Allow  []netip.Prefix
	Logger *slog.Logger
	Now    func() time.Time
	// Batch is the most statements in one POST (default 50).
	Batch int
	// Backoff is the first wait after a failed try (default a minute),
	// doubling up to an hour.
	Backoff time.Duration
}

// Service keeps the LRS configurations and the statement outbox.
type Service struct {
	o      Options
	holder string
	wake   chan struct{}

	mu      sync.Mutex
	touched map[string]bool
	touch   chan struct{}
	// active says whether any LRS is active, as read at activeAt (kept
	// for activeTTL; a change made through this process resets it).
	active   bool
	activeAt time.Time
}

// activeTTL is how long "is any LRS active" is kept: another instance's
// new LRS gets the statements of learners' changes after at most this
// (and the periodic catch-up queues what it missed).
const activeTTL = 30 * time.Second

// anyActive says whether any LRS is active.
func (s *Service) anyActive(ctx context.Context) (bool, error) {
	s.mu.Lock()
	if !s.activeAt.IsZero() && s.now().Sub(s.activeAt) < activeTTL {
		a := s.active
		s.mu.Unlock()
		return a, nil
	}
	s.mu.Unlock()
	lrss, err := s.LRSs(ctx)
	if err != nil {
		return false, err
	}
	active := false
	for _, l := range lrss {
		active = active || l.Active
	}
	s.mu.Lock()
	s.active, s.activeAt = active, s.now()
	s.mu.Unlock()
	return active, nil
}

// forgetActive makes the next anyActive read the LRSs again.
func (s *Service) forgetActive() {
	s.mu.Lock()
	s.activeAt = time.Time{}
	s.mu.Unlock()
}

// New makes the service.
func New(o Options) *Service {
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = egress.Client(30*time.Second, o.Allow)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Minute
	}
	if o.Platform == "" {
		o.Platform = "Työkyky"
	}
	return &Service{o: o, holder: randomID(), wake: make(chan struct{}, 1), touched: map[string]bool{}, touch: make(chan struct{}, 1)}
}

func (s *Service) now() time.Time { return s.o.Now().UTC() }

// activities names the activities of the course published now.
func (s *Service) activities() Activities {
	a := Activities{BaseURL: s.o.BaseURL}
	if c := s.course(); c != nil {
		a.CourseTitle = c.Meta.Title
	}
	return a
}

// statement makes the statement of an event for an LRS.
func (s *Service) statement(ctx context.Context, l *LRS, ev Event) (Statement, error) {
	st := Statement{ID: StatementID(s.o.BaseURL, ev.Key), Verb: ev.Verb, Object: ev.Object, Result: ev.Result, Timestamp: Timestamp(ev.At),
		Actor: Agent{ObjectType: "Agent", Account: &Account{HomePage: s.o.BaseURL + "/", Name: ev.UserID}}}
	if l.Actor == ActorMbox && s.o.EmailOf != nil {
		email, err := s.o.EmailOf(ctx, ev.UserID)
		if err != nil {
			return st, err
		}
		if email != "" {
			st.Actor = Agent{ObjectType: "Agent", Mbox: "mailto:" + email}
		}
	}
	cx := &Context{Registration: Registration(s.o.BaseURL, ev.UserID), Platform: s.o.Platform, Language: "fi-FI"}
	if ev.Parent != nil || ev.Grouping != nil {
		cx.ContextActivities = &ContextActivities{}
		if ev.Parent != nil {
			cx.ContextActivities.Parent = []Object{*ev.Parent}
		}
		if ev.Grouping != nil {
			cx.ContextActivities.Grouping = []Object{*ev.Grouping}
		}
	}
	st.Context = cx
	return st, nil
}

// ToolAccount is the account name the site's own statements (voiding)
// are made by.
const ToolAccount = "tyokyky-system"

// voiding is the statement that voids stmtID: made by the site itself,
// its object a StatementRef.
func (s *Service) voiding(stmtID string, at time.Time) Statement {
	return Statement{ID: StatementID(s.o.BaseURL, "voided|"+stmtID), Verb: Voided, Object: Object{ObjectType: "StatementRef", ID: stmtID},
		Actor:     Agent{ObjectType: "Agent", Name: s.o.Platform, Account: &Account{HomePage: s.o.BaseURL + "/", Name: ToolAccount}},
		Timestamp: Timestamp(at)}
}

// LaunchedFrom records that a person launched the course from a learning
// platform (an LTI launch) towards target (a path of ours: the course, a
// module or the exam): one insert an active LRS, never waiting for the
// network.
func (s *Service) LaunchedFrom(ctx context.Context, userID, target string, at time.Time) error {
	a := s.activities()
	obj := a.Course()
	target, _, _ = strings.Cut(target, "?")
	target, _, _ = strings.Cut(target, "#")
	switch {
	case strings.HasPrefix(target, "/osiot/"):
		// A module of the course (a made-up one is the course).
		m, _, _ := strings.Cut(strings.TrimPrefix(target, "/osiot/"), "/")
		if c := s.course(); c != nil {
			for _, mod := range c.Modules {
				if mod.Slug == m {
					obj = a.Module(m, mod.Title)
				}
			}
		}
	case target == "/tentti" || strings.HasPrefix(target, "/tentti/"):
		obj = a.Exam()
	}
	var parent *Object
	if obj.ID != a.Course().ID {
		c := a.Course()
		parent = &c
	}
	at = at.UTC().Truncate(time.Millisecond)
	ev := Event{Key: userID + "|launched|" + obj.ID + "|" + strconv.FormatInt(at.UnixMilli(), 10), UserID: userID, Verb: Launched, Object: obj, Parent: parent, At: at}
	_, err := s.enqueue(ctx, userID, []Event{ev})
	return err
}

func (s *Service) course() *course.Course {
	if s.o.Sources.Course == nil {
		return nil
	}
	return s.o.Sources.Course()
}

// Touch asks for a person's statements to be brought up to date soon
// (after they completed something): Run does it, off the request.
func (s *Service) Touch(userID string) {
	if s == nil || userID == "" {
		return
	}
	s.mu.Lock()
	s.touched[userID] = true
	s.mu.Unlock()
	select {
	case s.touch <- struct{}{}:
	default:
	}
}

// Follow has the stores whose writes make statements (progress, the
// exam, certificates) tell Touch of every learner they change.
func (s *Service) Follow(stores ...interface{ OnChange(func(userID string)) }) {
	for _, st := range stores {
		st.OnChange(s.Touch)
	}
}

// Run brings the touched people's statements up to date until ctx ends
// (what a stopped process did not get to, Reconcile catches).
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.touch:
		}
		s.mu.Lock()
		users := s.touched
		s.touched = map[string]bool{}
		s.mu.Unlock()
		for u := range users {
			if _, err := s.Queue(ctx, u); err != nil && ctx.Err() == nil {
				s.o.Logger.Warn("xapi: queueing a learner's statements", "err", err)
			}
		}
	}
}

// Queue queues the statements a person's records make now and that were
// not queued before, to every active LRS; it returns how many it queued.
func (s *Service) Queue(ctx context.Context, userID string) (int, error) {
	if active, err := s.anyActive(ctx); err != nil || !active {
		return 0, err // nothing to queue for: the learner's records are not read
	}
	evs, err := s.o.Sources.Events(ctx, s.activities(), userID)
	if err != nil {
		return 0, err
	}
	return s.enqueue(ctx, userID, evs)
}

// Reconcile queues every person's statements (for what happened while
// no process was there to queue them).
func (s *Service) Reconcile(ctx context.Context, users []string) (int, error) {
	n := 0
	for _, u := range users {
		k, err := s.Queue(ctx, u)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// deliveryError is a failed POST: the LRS's status (0: no answer) and
// the wait it asked for.
type deliveryError struct {
	status     int
	retryAfter time.Duration
	err        error
}

func (e *deliveryError) Error() string { return e.err.Error() }

// post sends statements to the LRS in one request: POST with an array, or
// PUT with statementId for one (put true).
func (s *Service) post(ctx context.Context, l *LRS, password string, body []byte, putID string) error {
	method, u := http.MethodPost, l.StatementsURL()
	if putID != "" {
		method, u = http.MethodPut, u+"?statementId="+putID
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return &deliveryError{status: http.StatusBadRequest, err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Experience-API-Version", Version)
	req.SetBasicAuth(l.Username, password)
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return &deliveryError{err: err}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &deliveryError{status: resp.StatusCode, retryAfter: retry.After(resp.Header.Get("Retry-After"), s.now()),
		err: fmt.Errorf("%s %s: %d %s", method, l.StatementsURL(), resp.StatusCode, clip(string(answer)))}
}

// sendBatch sends the claimed statements to an LRS: one POST; when the
// LRS refuses the batch (400, or 409: some id is there already), each
// statement alone by PUT, so that one bad statement does not hold back
// the others and one already there counts as delivered. It returns each
// statement's outcome (nil: delivered).
func (s *Service) sendBatch(ctx context.Context, l *LRS, batch []*queued) []error {
	out := make([]error, len(batch))
	password, err := l.password(s.o.KeySecret)
	if err != nil {
		for i := range out {
			out[i] = &deliveryError{status: http.StatusUnauthorized, err: err}
		}
		return out
	}
	var body bytes.Buffer
	body.WriteByte('[')
	for i, q := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(q.Statement)
	}
	body.WriteByte(']')
	err = s.post(ctx, l, password, body.Bytes(), "")
	var de *deliveryError
	if err == nil || !errors.As(err, &de) || de.status != http.StatusBadRequest && de.status != http.StatusConflict {
		for i := range out {
			out[i] = err
		}
		return out
	}
	for i, q := range batch {
		err := s.post(ctx, l, password, []byte(q.Statement), q.StatementID)
		if errors.As(err, &de) && de.status == http.StatusConflict {
			err = nil // the LRS has a statement with this id: ours, sent before
		}
		out[i] = err
	}
	return out
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}

func marshal(st Statement) (string, error) {
	b, err := json.Marshal(st)
	return string(b), err
}
