// Package cert issues the course certificates: Open Badges 3.0
// credentials signed as JWTs (VC-JWT), with a public page each, a W3C
// Bitstring Status List for revocation, the issuer's key set as JWKS, and
// printable forms (PDF with a QR code).
package cert

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/internal/notify"
)

const (
	certificatesCollection = "certificates"
	claimsCollection       = "certificate_attempts" // _id: attempt → the certificate issued for it
	slotsCollection        = "certificate_status_slots"

	// ListSize is the number of entries of a status list: the minimum the
	// Bitstring Status List specification sets (16 KiB uncompressed), so
	// that a revoked certificate hides among many.
	ListSize = 131072
)

// Certificate is an issued certificate.
type Certificate struct {
	ID      string      `bson:"_id" json:"id"`
	UserID  string      `bson:"user_id" json:"-"`
	Attempt string      `bson:"attempt" json:"-"`
	Holder  string      `bson:"holder" json:"holder"`
	Course  string      `bson:"course" json:"course"`
	Credits int         `bson:"credits" json:"credits"`
	Hours   int         `bson:"hours" json:"hours"`
	Issued  time.Time   `bson:"issued" json:"issued"`
	URL     string      `bson:"url" json:"url"`   // the public page, also the credential's id
	Subject string      `bson:"subject" json:"-"` // the credential subject's id (a random URN)
	KeyID   string      `bson:"kid" json:"kid"`
	Token   string      `bson:"token" json:"token"`
	List    int         `bson:"list" json:"-"`
	Index   int         `bson:"index" json:"-"`
	Revoked *Revocation `bson:"revoked,omitempty" json:"revoked,omitempty"`
	// Withdrawn: the holder deleted their account; the certificate stays
	// revoked, without the holder's name or token.
	Withdrawn bool `bson:"withdrawn,omitempty" json:"withdrawn,omitempty"`
	// NoticePending: Options.Issued has not yet been told of it (the
	// process died between the two); Issue and Backfill tell it.
	NoticePending bool `bson:"notice_pending,omitempty" json:"-"`
}

// Revocation says who revoked a certificate, when and why.
type Revocation struct {
	At     time.Time `bson:"at" json:"at"`
	By     string    `bson:"by" json:"-"`
	Reason string    `bson:"reason" json:"reason"`
}

// Options configure the issuing.
type Options struct {
	BaseURL string // the site's public URL, without a trailing slash
	Issuer  Issuer
	// Course is what the certificates certify, as published now.
	Course func() Course
	// HolderName is the learner's name now (recorded in the certificate).
	HolderName func(ctx context.Context, userID string) (string, error)
	// MayIssue, when set, is asked before a new certificate is made; an
	// error wrapping ErrWaiting keeps the passed attempt waiting (its
	// holder's address is not verified yet), to be issued by a later
	// Issue or Backfill.
	MayIssue func(ctx context.Context, userID string) error
	// Issued, when set, is told of each new certificate: once, or again
	// after a crash cut the first telling short, so it must be idempotent.
	Issued func(ctx context.Context, c *Certificate)
	Logger *slog.Logger
}

// Store issues, lists, verifies and revokes certificates.
type Store struct {
	db    *database.DB
	keys  *Keys
	opts  Options
	locks *database.Locks
	now   func() time.Time

	mu    sync.Mutex
	lists map[int]*cachedList

	// queue holds passed attempts for Run to issue, one at a time.
	queue chan exam.PassedAttempt
	// changed, where set, is told of certificates issued, revoked and
	// withdrawn (OnChange).
	changed notify.Listeners
}

// OnChange has f told the holder's id after a certificate is issued,
// revoked or withdrawn through this store: the reports' summaries follow
// them. Listeners may be added while the store runs; each is told.
func (s *Store) OnChange(f func(userID string)) { s.changed.Add(f) }

func (s *Store) tell(userID string) {
	s.changed.Tell(userID)
}

// IssuedRowsOf lists one learner's certificates for the reports, read now
// by id from the attempts they hold (exam.Store.AttemptIDs).
func (s *Store) IssuedRowsOf(ctx context.Context, userID string, attempts []string) ([]IssuedRow, error) {
	list, err := s.ForAttempts(ctx, userID, attempts)
	if err != nil {
		return nil, err
	}
	out := make([]IssuedRow, len(list))
	for i, c := range list {
		out[i] = IssuedRow{UserID: userID, Issued: c.Issued, Revoked: c.Revoked != nil}
	}
	return out, nil
}

type cachedList struct {
	token string
	at    time.Time
}

// statusListTTL is how long a signed status list is served before it is
// made again (a revocation drops it at once in this process).
const statusListTTL = time.Minute

// NewStore issues certificates signed with keys.
func NewStore(db *database.DB, keys *Keys, opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	return &Store{db: db, keys: keys, opts: opts, locks: database.NewLocks(), now: time.Now, lists: map[int]*cachedList{},
		queue: make(chan exam.PassedAttempt, queueSize)}
}

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Keys is the store's key set.
func (s *Store) Keys() *Keys { return s.keys }

// Issuer is the issuer the certificates name.
func (s *Store) Issuer() Issuer { return s.opts.Issuer }

// EnsureIndexes creates the certificates' indexes.
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	// One at a time: FerretDB v1.24 panics on createIndexes with several
	// indexes when they exist already (a restart).
	for _, m := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user")},
		{Keys: bson.D{{Key: "list", Value: 1}}, Options: options.Index().SetName("list")},
	} {
		if _, err := db.Collection(certificatesCollection).Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("cert: indexes: %w", err)
		}
	}
	return nil
}

// ErrWaiting: the certificate waits for its holder (an unverified
// address); the passed attempt is issued later.
var ErrWaiting = errors.New("cert: the certificate waits for the holder's verified address")

// queueSize bounds the passed attempts waiting for their certificate; a
// full queue leaves the rest to the periodic Backfill.
const queueSize = 10_000

// Passed queues the certificate of a passed attempt (exam.Certifier):
// Run issues it within moments. Issuing is kept out of the submission so
// that a burst of submissions (a whole course taking the exam at once)
// does not queue its writes in front of other learners' autosaves.
func (s *Store) Passed(_ context.Context, a *exam.Attempt) error {
	select {
	case s.queue <- exam.PassedAttempt{UserID: a.UserID, Attempt: a.ID}:
		return nil
	default:
		return errors.New("cert: the issuing queue is full; the periodic job issues this certificate")
	}
}

// Run issues the queued certificates one at a time until ctx ends.
func (s *Store) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-s.queue:
			if _, err := s.Issue(ctx, p.UserID, p.Attempt); errors.Is(err, ErrWaiting) {
				s.opts.Logger.Info("certificate waits for a verified address", "attempt", p.Attempt)
			} else if err != nil && ctx.Err() == nil {
				s.opts.Logger.Error("issuing a certificate (the periodic job tries again)", "attempt", p.Attempt, "err", err)
			}
		}
	}
}

// URL is the public page of the certificate id.
func (s *Store) URL(id string) string { return s.opts.BaseURL + "/todistus/" + id }

// StatusListURL is the address of status list n.
func (s *Store) StatusListURL(n int) string {
	return s.opts.BaseURL + "/credentials/status/" + strconv.Itoa(n)
}

// Issue issues the certificate of a passed attempt, once: issuing again
// (a retry, another instance) returns the one certificate.
func (s *Store) Issue(ctx context.Context, userID, attempt string) (*Certificate, error) {
	defer s.locks.Lock(attempt)()
	// The attempt's claim names the certificate: made first, so that a
	// crash part-way leaves a claim that a retry completes.
	claim, err := s.claimOf(ctx, attempt)
	if errors.Is(err, mongo.ErrNoDocuments) {
		claim = attemptClaim{Cert: newID(), User: userID}
		_, err = s.db.Collection(claimsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: attempt}, {Key: "cert", Value: claim.Cert}, {Key: "user", Value: userID}})
		if mongo.IsDuplicateKeyError(err) { // another instance claimed it first: go on with its claim
			claim, err = s.claimOf(ctx, attempt)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cert: issue: %w", err)
	}
	if claim.User != userID {
		return nil, fmt.Errorf("cert: attempt %s belongs to another learner", attempt)
	}
	crashpoint.Reach("certificate/after-claim")
	if c, err := s.Get(ctx, claim.Cert); err == nil {
		s.notify(ctx, c)
		return c, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if s.opts.MayIssue != nil {
		if err := s.opts.MayIssue(ctx, userID); err != nil {
			return nil, err
		}
	}
	course := s.opts.Course()
	holder, err := s.opts.HolderName(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("cert: the holder's name: %w", err)
	}
	list, index, err := s.slot(ctx, claim.Cert)
	if err != nil {
		return nil, err
	}
	crashpoint.Reach("certificate/after-slot")
	c := &Certificate{ID: claim.Cert, UserID: userID, Attempt: attempt, Holder: strings.TrimSpace(holder),
		Course: course.Title, Credits: course.Credits, Hours: course.Hours,
		Issued: s.now().UTC().Truncate(time.Second), URL: s.URL(claim.Cert), Subject: "urn:uuid:" + uuid(),
		List: list, Index: index, NoticePending: s.opts.Issued != nil}
	c.Token, c.KeyID, err = s.keys.sign(credential(c, s.opts.Issuer, course, s.StatusListURL(list)))
	if err != nil {
		return nil, err
	}
	_, err = s.db.Collection(certificatesCollection).InsertOne(ctx, c)
	if mongo.IsDuplicateKeyError(err) {
		return s.Get(ctx, c.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("cert: issue: %w", err)
	}
	s.opts.Logger.Info("certificate issued", "certificate", c.ID, "attempt", attempt, "kid", c.KeyID)
	s.tell(userID)
	crashpoint.Reach("certificate/after-insert")
	s.notify(ctx, c)
	return c, nil
}

// notify tells Options.Issued of a certificate whose notice is pending,
// then marks it told. Issued must be idempotent (the e-mail notice is
// keyed by the certificate): a crash between the two tells it again.
func (s *Store) notify(ctx context.Context, c *Certificate) {
	if !c.NoticePending || s.opts.Issued == nil {
		return
	}
	s.opts.Issued(ctx, c)
	_, err := s.db.Collection(certificatesCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "notice_pending", Value: ""}}}})
	if err != nil {
		s.opts.Logger.Warn("certificate notice sent but not marked (it is sent again, once)", "certificate", c.ID, "err", err)
		return
	}
	c.NoticePending = false
}

// attemptClaim is an attempt's claim: the certificate it names and whose
// attempt it is.
type attemptClaim struct {
	Cert string `bson:"cert"`
	User string `bson:"user"`
}

// claimOf reads the claim of an attempt (mongo.ErrNoDocuments: none yet).
func (s *Store) claimOf(ctx context.Context, attempt string) (attemptClaim, error) {
	var c attemptClaim
	err := s.db.Collection(claimsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: attempt}}).Decode(&c)
	return c, err
}

// Backfill issues the certificates that issuing at submission did not
// (the store was unreachable then): one per passed attempt. It returns
// how many it issued.
func (s *Store) Backfill(ctx context.Context, passed []exam.PassedAttempt) (int, error) {
	n := 0
	for _, p := range passed {
		claim, err := s.claimOf(ctx, p.Attempt)
		if err == nil {
			if c, err := s.Get(ctx, claim.Cert); err == nil {
				s.notify(ctx, c)
				continue
			}
		} else if !errors.Is(err, mongo.ErrNoDocuments) {
			return n, fmt.Errorf("cert: backfill: %w", err)
		}
		if _, err := s.Issue(ctx, p.UserID, p.Attempt); errors.Is(err, ErrWaiting) {
			continue
		} else if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// slot takes a free, random entry of a status list for cert: random, so
// that the index says nothing of when or to whom the certificate was
// issued. A list that is a quarter full hands on to the next.
func (s *Store) slot(ctx context.Context, cert string) (list, index int, err error) {
	for list = 1; list < 1000; list++ {
		for try := 0; try < 8; try++ {
			n, err := rand.Int(rand.Reader, big.NewInt(ListSize))
			if err != nil {
				return 0, 0, err
			}
			index = int(n.Int64())
			_, err = s.db.Collection(slotsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: strconv.Itoa(list) + ":" + strconv.Itoa(index)}, {Key: "cert", Value: cert}})
			if err == nil {
				return list, index, nil
			}
			if !mongo.IsDuplicateKeyError(err) {
				return 0, 0, fmt.Errorf("cert: status entry: %w", err)
			}
		}
	}
	return 0, 0, errors.New("cert: every status list is full")
}

// ErrNotFound means no such certificate.
var ErrNotFound = fault.New(fault.NotFound, "certificate_not_found", "", "no such certificate")

// Get is the certificate id.
func (s *Store) Get(ctx context.Context, id string) (*Certificate, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	var c Certificate
	err := s.db.Collection(certificatesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	return &c, nil
}

// ForUser lists a learner's certificates, newest first.
func (s *Store) ForUser(ctx context.Context, userID string) ([]*Certificate, error) {
	return s.find(ctx, bson.D{{Key: "user_id", Value: userID}})
}

// ForAttempts lists the certificates issued for a learner's attempts,
// newest first: reads by id only, so the cost does not grow with the
// number of certificates (the embedded store scans a collection for any
// other query).
func (s *Store) ForAttempts(ctx context.Context, userID string, attempts []string) ([]*Certificate, error) {
	var out []*Certificate
	for i := len(attempts) - 1; i >= 0; i-- {
		claim, err := s.claimOf(ctx, attempts[i])
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cert: %w", err)
		}
		c, err := s.Get(ctx, claim.Cert)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.UserID == userID {
			out = append(out, c)
		}
	}
	return out, nil
}

// All lists every certificate, newest first (for administrators).
func (s *Store) All(ctx context.Context) ([]*Certificate, error) {
	return s.find(ctx, bson.D{})
}

func (s *Store) find(ctx context.Context, filter bson.D) ([]*Certificate, error) {
	cur, err := s.db.Collection(certificatesCollection).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "issued", Value: -1}}))
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	var out []*Certificate
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	return out, nil
}

// Page is a page of every certificate, newest first, after the cursor
// after ("" for the first page), at most size; next is the following
// page's cursor ("" after the last).
func (s *Store) Page(ctx context.Context, after string, size int) (list []*Certificate, next string, err error) {
	ks := database.Keyset{Field: "issued", Desc: true, Tie: "_id"}
	filter, err := ks.Filter(bson.D{}, after)
	if err != nil {
		return nil, "", err
	}
	cur, err := s.db.Collection(certificatesCollection).Find(ctx, filter, ks.Options(size))
	if err != nil {
		return nil, "", fmt.Errorf("cert: %w", err)
	}
	var rows []*Certificate
	if err := cur.All(ctx, &rows); err != nil {
		return nil, "", fmt.Errorf("cert: %w", err)
	}
	list, next = database.Page(rows, size, func(c *Certificate) string { return database.CursorOf(c.Issued, c.ID) })
	return list, next, nil
}

// ErrRevoked means the certificate was revoked already.
var ErrRevoked = fault.New(fault.Conflict, "certificate_revoked", "", "the certificate is revoked already")

// Revoke revokes a certificate with a reason; it shows in the status list
// at once in this process and within a minute in others.
func (s *Store) Revoke(ctx context.Context, id, by, reason string) (*Certificate, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 500 {
		return nil, ErrReason
	}
	defer s.locks.Lock(id)()
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Revoked != nil {
		return c, ErrRevoked
	}
	c.Revoked = &Revocation{At: s.now().UTC().Truncate(time.Millisecond), By: by, Reason: reason}
	_, err = s.db.Collection(certificatesCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: c.Revoked}}}})
	if err != nil {
		return nil, fmt.Errorf("cert: revoke: %w", err)
	}
	s.mu.Lock()
	delete(s.lists, c.List)
	s.mu.Unlock()
	s.tell(c.UserID)
	return c, nil
}

// ErrReason: a revocation needs its reason, 1–500 characters.
var ErrReason = fault.New(fault.Invalid, "revocation_reason", "reason", "give the reason for revoking in 1–500 characters")

// WithdrawnReason is the revocation reason of a withdrawn certificate.
const WithdrawnReason = "withdrawn at the holder's request"

// Withdraw applies the account-deletion policy to a learner's
// certificates: each is revoked (the status list says so) and keeps only
// what the public page needs to say that it was withdrawn at the holder's
// request — the course, the date and the issuer. The holder's name, the
// token, the subject id and the links to the learner and the attempt are
// erased. It returns how many certificates it withdrew.
func (s *Store) Withdraw(ctx context.Context, userID string) (int, error) {
	defer s.tell(userID)
	list, err := s.ForUser(ctx, userID)
	if err != nil {
		return 0, err
	}
	for _, c := range list {
		unlock := s.locks.Lock(c.ID)
		rev := c.Revoked
		if rev == nil {
			rev = &Revocation{At: s.now().UTC().Truncate(time.Millisecond), By: "holder", Reason: WithdrawnReason}
		}
		_, err := s.db.Collection(certificatesCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "revoked", Value: rev}, {Key: "withdrawn", Value: true},
			{Key: "holder", Value: ""}, {Key: "token", Value: ""}, {Key: "subject", Value: ""}, {Key: "user_id", Value: ""}, {Key: "attempt", Value: ""},
		}}})
		if err == nil && c.Attempt != "" {
			_, err = s.db.Collection(claimsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: c.Attempt}})
		}
		unlock()
		if err != nil {
			return 0, fmt.Errorf("cert: withdraw: %w", err)
		}
		s.mu.Lock()
		delete(s.lists, c.List)
		s.mu.Unlock()
	}
	return len(list), nil
}

// Verification is the answer to "is this certificate valid?".
type Verification struct {
	Valid       bool           `json:"valid"`
	Revoked     bool           `json:"revoked"`
	Reason      string         `json:"reason,omitempty"`
	Claims      map[string]any `json:"claims,omitempty"`
	Certificate *Certificate   `json:"-"`
}

// Verify checks a token: its signature against the issuer's own keys, its
// claims, and whether the certificate it names was revoked.
func (s *Store) Verify(ctx context.Context, token string) Verification {
	claims, err := Parse(strings.TrimSpace(token), s.keys, s.opts.Issuer.ID, s.now())
	if err != nil {
		return Verification{Reason: Reason(err)}
	}
	v := Verification{Claims: jsonClaims(claims)}
	jti, _ := claims["jti"].(string)
	id, ok := strings.CutPrefix(jti, s.opts.BaseURL+"/todistus/")
	if !ok {
		v.Reason = "the token names no certificate of this issuer (jti)"
		return v
	}
	c, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		v.Reason = "the issuer has no record of this certificate"
		return v
	}
	if err != nil {
		v.Reason = "the issuer's register cannot be read now; try again"
		return v
	}
	return standing(c, v)
}

// standing completes a verification whose token checked out with the
// register's record of the certificate: withdrawn, revoked or valid.
func standing(c *Certificate, v Verification) Verification {
	v.Certificate = c
	switch {
	case c.Withdrawn:
		v.Revoked, v.Claims = true, nil
		v.Reason = "revoked on " + c.Revoked.At.Format("2006-01-02") + ": " + WithdrawnReason
	case c.Revoked != nil:
		v.Revoked = true
		v.Reason = "revoked on " + c.Revoked.At.Format("2006-01-02") + ": " + c.Revoked.Reason
	default:
		v.Valid = true
	}
	return v
}

// Status is a certificate's own standing: its stored token verified now
// against the keys, with the record at hand (no second read). It carries
// no claims: the page that asks shows the record.
func (s *Store) Status(c *Certificate) Verification {
	if c.Withdrawn {
		return standing(c, Verification{})
	}
	claims, err := Parse(c.Token, s.keys, s.opts.Issuer.ID, s.now())
	if err != nil {
		return Verification{Reason: Reason(err), Certificate: c}
	}
	if jti, _ := claims["jti"].(string); jti != c.URL {
		return Verification{Reason: "the token names another certificate", Certificate: c}
	}
	return standing(c, Verification{})
}

// StatusList is status list n as a signed BitstringStatusListCredential
// (VC-JWT): bit i set means the certificate at index i is revoked.
func (s *Store) StatusList(ctx context.Context, n int) (string, error) {
	if n < 1 || n >= 1000 {
		return "", ErrNotFound
	}
	s.mu.Lock()
	if l, ok := s.lists[n]; ok && s.now().Sub(l.at) < statusListTTL {
		s.mu.Unlock()
		return l.token, nil
	}
	s.mu.Unlock()
	cur, err := s.db.Collection(certificatesCollection).Find(ctx, bson.D{{Key: "list", Value: n}, {Key: "revoked", Value: bson.D{{Key: "$exists", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: "index", Value: 1}, {Key: "list", Value: 1}, {Key: "revoked", Value: 1}}))
	if err != nil {
		return "", fmt.Errorf("cert: status list: %w", err)
	}
	var revoked []Certificate
	if err := cur.All(ctx, &revoked); err != nil {
		return "", fmt.Errorf("cert: status list: %w", err)
	}
	bits := make([]byte, ListSize/8)
	for _, c := range revoked {
		if c.List == n && c.Revoked != nil && c.Index >= 0 && c.Index < ListSize {
			bits[c.Index/8] |= 0x80 >> (c.Index % 8) // the first index is the leftmost bit
		}
	}
	encoded, err := EncodeList(bits)
	if err != nil {
		return "", err
	}
	now := s.now().UTC().Truncate(time.Second)
	url := s.StatusListURL(n)
	claims := jwt.MapClaims{
		"@context":  []string{"https://www.w3.org/ns/credentials/v2"},
		"id":        url,
		"type":      []string{"VerifiableCredential", "BitstringStatusListCredential"},
		"issuer":    s.opts.Issuer.ID,
		"validFrom": now.Format(time.RFC3339),
		"credentialSubject": map[string]any{
			"id":            url + "#list",
			"type":          "BitstringStatusList",
			"statusPurpose": "revocation",
			"encodedList":   encoded,
		},
		"iss": s.opts.Issuer.ID,
		"nbf": now.Unix(),
		"jti": url,
	}
	token, _, err := s.keys.sign(claims)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.lists[n] = &cachedList{token: token, at: s.now()}
	s.mu.Unlock()
	return token, nil
}

// EncodeList is a bitstring as the specification encodes it: GZIP, then
// base64url without padding, with the multibase prefix "u".
func EncodeList(bits []byte) (string, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(bits); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return "u" + base64.RawURLEncoding.EncodeToString(b.Bytes()), nil
}

// DecodeList reverses EncodeList.
func DecodeList(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "u")
	if !ok {
		return nil, errors.New("cert: the encoded list lacks the multibase prefix u")
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("cert: encoded list: %w", err)
	}
	r, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("cert: encoded list: %w", err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(io.LimitReader(r, ListSize)); err != nil {
		return nil, fmt.Errorf("cert: encoded list: %w", err)
	}
	return out.Bytes(), nil
}

// Document is the printable form of c in lang.
func (s *Store) Document(c *Certificate, lang string) Document {
	return Document{ID: c.ID, Holder: c.Holder, Course: c.Course, Credits: c.Credits, Hours: c.Hours,
		Issued: c.Issued.In(i18n.Helsinki), IssuerName: s.opts.Issuer.Name, IssuerAddress: s.opts.Issuer.Address, URL: c.URL, Lang: lang}
}

// newID is a certificate id: 128 random bits, base64url (22 characters).
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// uuid is a random (version 4) UUID.
func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// IssuedRow is a certificate for the reports.
type IssuedRow struct {
	UserID  string    `bson:"user_id"`
	Issued  time.Time `bson:"issued"`
	Revoked bool      `bson:"-"`
}

// IssuedRows lists every certificate's holder and date.
func (s *Store) IssuedRows(ctx context.Context) ([]IssuedRow, error) {
	cur, err := s.db.Collection(certificatesCollection).Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: "user_id", Value: 1}, {Key: "issued", Value: 1}, {Key: "revoked", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	var docs []struct {
		UserID  string      `bson:"user_id"`
		Issued  time.Time   `bson:"issued"`
		Revoked *Revocation `bson:"revoked"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	out := make([]IssuedRow, len(docs))
	for i, d := range docs {
		out[i] = IssuedRow{UserID: d.UserID, Issued: d.Issued, Revoked: d.Revoked != nil}
	}
	return out, nil
}
