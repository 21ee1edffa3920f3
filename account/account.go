// Package account is who the learners, authors and administrators are:
// accounts with argon2id passwords, sessions, roles, two-factor
// authentication and sign-in rate limits. It knows nothing of HTTP.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/cache"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/internal/notify"
)

// SessionCacheTTL is how long an instance trusts a session it has looked
// up. A sign-out, password change or role change made through an instance
// takes effect there at once; on other instances sharing the database it
// takes effect within this time. An instance that reads the other
// instances' revocation notes (ReadRevocations) trusts a session up to
// SessionTrustMax while its reading keeps up, and still sees such a
// change within SessionCacheTTL.
const SessionCacheTTL = 5 * time.Second

// SessionTrustMax is how long an instance that follows the revocation
// notes trusts a session it has looked up: the bound for a change made
// directly in the database, behind every instance's back.
const SessionTrustMax = time.Minute

// cachedSession is a session and its user as read, shared by the
// requests of the session until the entry goes: never modified once
// cached (Session returns pointers into it).
type cachedSession struct {
	session Session
	user    User
	loaded  time.Time // when it was read
}

// Roles.
const (
	RoleLearner = "learner"
	RoleAuthor  = "author"
	RoleAdmin   = "admin"
)

// ValidRole reports whether r is a role.
func ValidRole(r string) bool {
	return r == RoleLearner || r == RoleAuthor || r == RoleAdmin || r == RoleReporter
}

// Organisations a learner chooses from: the 21 wellbeing services
// counties, the City of Helsinki, HUS, and other (with free text).
var Organisations = []string{
	"Etelä-Karjalan hyvinvointialue", "Etelä-Pohjanmaan hyvinvointialue", "Etelä-Savon hyvinvointialue",
	"Itä-Uudenmaan hyvinvointialue", "Kainuun hyvinvointialue", "Kanta-Hämeen hyvinvointialue",
	"Keski-Pohjanmaan hyvinvointialue", "Keski-Suomen hyvinvointialue", "Keski-Uudenmaan hyvinvointialue",
	"Kymenlaakson hyvinvointialue", "Lapin hyvinvointialue", "Länsi-Uudenmaan hyvinvointialue",
	"Pirkanmaan hyvinvointialue", "Pohjanmaan hyvinvointialue", "Pohjois-Karjalan hyvinvointialue",
	"Pohjois-Pohjanmaan hyvinvointialue", "Pohjois-Savon hyvinvointialue", "Päijät-Hämeen hyvinvointialue",
	"Satakunnan hyvinvointialue", "Vantaan ja Keravan hyvinvointialue", "Varsinais-Suomen hyvinvointialue",
	"Helsingin kaupunki", "HUS-yhtymä",
}

// OtherOrganisation is the choice that takes free text.
const OtherOrganisation = "muu"

// ValidOrganisation says whether o is one of the choices.
func ValidOrganisation(o string) bool {
	return o == OtherOrganisation || slices.Contains(Organisations, o)
}

// OrganisationChoices is every choice, the other one last.
func OrganisationChoices() []string {
	return append(slices.Clone(Organisations), OtherOrganisation)
}

// User is an account.
type User struct {
	ID                string `bson:"_id" json:"id"`
	Email             string `bson:"email" json:"email"`
	Name              string `bson:"name" json:"name"`
	Organisation      string `bson:"organisation" json:"organisation"`
	OrganisationOther string `bson:"organisation_other,omitempty" json:"organisation_other,omitempty"`
	// OrgID is the organisation's short code in the directory (package
	// org), UnitID the unit chosen in it; both empty for "muu".
	OrgID             string    `bson:"org_id,omitempty" json:"org_id,omitempty"`
	UnitID            string    `bson:"unit_id,omitempty" json:"unit_id,omitempty"`
	Role              string    `bson:"role" json:"role"`
	PasswordHash      string    `bson:"password_hash" json:"-"`
	TOTPSecret        string    `bson:"totp_secret,omitempty" json:"-"`
	TOTPEnabled       bool      `bson:"totp_enabled" json:"totp_enabled"`
	TOTPPending       string    `bson:"totp_pending,omitempty" json:"-"`   // a new authenticator's secret until confirmed
	TOTPLastStep      int64     `bson:"totp_last_step,omitempty" json:"-"` // the last 30-second step accepted
	RecoveryCodes     []string  `bson:"recovery_codes,omitempty" json:"-"` // sha256 hex of unused codes
	Disabled          bool      `bson:"disabled" json:"disabled"`
	CreatedAt         time.Time `bson:"created_at" json:"created_at"`
	PasswordChangedAt time.Time `bson:"password_changed_at" json:"-"`
	LastActive        time.Time `bson:"last_active,omitempty" json:"last_active"`
	// EmailVerified: the owner opened a verification link sent to Email.
	EmailVerified   bool      `bson:"email_verified" json:"email_verified"`
	EmailVerifiedAt time.Time `bson:"email_verified_at,omitempty" json:"-"`
	// EmailPending is a new address waiting for its verification.
	EmailPending string `bson:"email_pending,omitempty" json:"email_pending,omitempty"`
	// Reminders: the learner asked for study reminders (off by default).
	Reminders    bool      `bson:"reminders" json:"reminders"`
	LastReminder time.Time `bson:"last_reminder,omitempty" json:"-"`
	// Lang is the language of the account's e-mails (fi, sv or en).
	Lang string `bson:"lang,omitempty" json:"lang,omitempty"`
	// RoleFromProvider: the role (reporter) was granted by an identity
	// provider's group claim, and goes when the claim does.
	RoleFromProvider bool `bson:"role_from_provider,omitempty" json:"-"`
	// Groups are the groups the organisation's identity provider named at
	// the last sign-in (its groups claim), for assignments to a group.
	Groups []string `bson:"groups,omitempty" json:"-"`
	// SessionMFA is not stored: the session it was read with had its
	// second factor from a trusted identity provider (Session.MFA).
	SessionMFA bool `bson:"-" json:"-"`
}

// MailLang is the language for the account's e-mails.
func (u *User) MailLang() string {
	switch u.Lang {
	case "sv", "en":
		return u.Lang
	}
	return "fi"
}

// InListedOrganisation: the account belongs to one of the listed
// organisations (not "muu", whose free text proves nothing).
func (u *User) InListedOrganisation() bool {
	return u.Organisation != OtherOrganisation && (u.OrgID != "" || slices.Contains(Organisations, u.Organisation))
}

// SetOrganisation moves an account to an organisation of the directory
// (orgID, its name as the reports group by it, and a unit or "") or to
// "muu" with its free text (orgID ""). The caller has checked them
// against the directory.
func (s *Store) SetOrganisation(ctx context.Context, userID, name, other, orgID, unitID string) error {
	other = strings.TrimSpace(other)
	set := bson.D{{Key: "organisation", Value: name}, {Key: "org_id", Value: orgID}, {Key: "unit_id", Value: unitID}, {Key: "organisation_other", Value: ""}}
	switch {
	case name == OtherOrganisation && other != "" && utf8.RuneCountInString(other) <= 100:
		set = bson.D{{Key: "organisation", Value: name}, {Key: "org_id", Value: ""}, {Key: "unit_id", Value: ""}, {Key: "organisation_other", Value: other}}
	case name == OtherOrganisation || name == "" || orgID == "":
		return ErrInvalidOrg
	}
	r, err := s.db.Collection(usersCollection).UpdateByID(ctx, userID, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrNotFound
	}
	s.dropSessions(ctx, userID)
	s.tell(userID)
	return nil
}

// NeedsTwoFactor: every role with a permission (authors, reporters and
// admins) must use two-factor authentication.
func (u *User) NeedsTwoFactor() bool { return u.Privileged() }

// Errors with codes the UI translates. None of them says whether an
// account exists.
var (
	ErrInvalidEmail   = fault.New(fault.Invalid, "email_invalid", "email", "the e-mail address is not valid")
	ErrInvalidName    = fault.New(fault.Invalid, "name_invalid", "name", "the name must be 1–100 characters")
	ErrInvalidOrg     = fault.New(fault.Invalid, "organisation_invalid", "organisation", "choose an organisation from the list, or muu with its name")
	ErrEmailTaken     = fault.New(fault.Conflict, "email_taken", "email", "the address already has an account")
	ErrBadCredentials = fault.New(fault.Invalid, "credentials_wrong", "email", "the address or the password is wrong")
	ErrNotFound       = fault.New(fault.NotFound, "account_not_found", "", "no such account")
	ErrInvalidRole    = fault.New(fault.Invalid, "role_invalid", "role", "no such role")
	ErrBadCode        = fault.New(fault.Invalid, "code_invalid", "code", "the code is wrong or used already")
	// ErrReporterOrganisation refuses the reporter role to an account
	// that is not in one of the listed organisations: "muu" is free text
	// that anyone may type, so it scopes nothing.
	ErrReporterOrganisation = fault.New(fault.Conflict, "reporter_organisation", "role", "a reporter must belong to a listed organisation")
	ErrTokenInvalid         = fault.New(fault.Invalid, "token_invalid", "", "the link is invalid, used or expired")
	ErrSessionNotActive     = fault.New(fault.Forbidden, "session_not_active", "", "the session has ended")
)

const (
	usersCollection = "users"
	// emailKeysCollection holds each address's key {_id: address,
	// user_id}: UserByEmail reads it by _id, where a filter on
	// users.email would read every account on FerretDB (see emailKey).
	emailKeysCollection = "user_emails"
	sessionsCollection  = "sessions"
	resetsCollection    = "password_resets"
)

// Store keeps accounts and sessions.
type Store struct {
	db    *database.DB
	now   func() time.Time
	locks *database.Locks
	// sessions caches session lookups for a few seconds; every change made
	// through this store drops the user's entries at once.
	sessions *cache.TTL[*cachedSession]
	// followed is when the last successful read of the revocation notes
	// began (UnixNano; 0: never).
	followed atomic.Int64
	// IdleTimeout ends a session unused this long; AbsoluteTimeout ends any
	// session this long after sign-in.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// changed, where set, is told of every write of what the reports read
	// of an account (OnChange).
	changed notify.Listeners
}

// OnChange has f told an account's id after every write made through this
// store of what the reports read of it (created, organisation, unit,
// role, last active, deleted): the reports' summaries follow them.
// Listeners may be added while the store runs; each is told.
func (s *Store) OnChange(f func(userID string)) { s.changed.Add(f) }

func (s *Store) tell(userID string) {
	s.changed.Tell(userID)
}

// NewStore uses db with the default timeouts (idle 2 h, absolute 7 days).
func NewStore(db *database.DB) *Store {
	s := &Store{db: db, now: time.Now, locks: database.NewLocks(), sessions: cache.New[*cachedSession](SessionTrustMax, 100_000),
		IdleTimeout: 2 * time.Hour, AbsoluteTimeout: 7 * 24 * time.Hour}
	s.sessions.Now = func() time.Time { return s.now() } // one clock for sessions and their cache
	return s
}

// EnsureIndexes creates the account collections' indexes (idempotent).
func EnsureIndexes(ctx context.Context, db *database.DB) error {
	if _, err := db.Collection(usersCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique"),
	}); err != nil {
		return fmt.Errorf("account: indexes: %w", err)
	}
	if _, err := db.Collection(revocationsCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "at", Value: 1}}, Options: options.Index().SetName("at"),
	}); err != nil {
		return fmt.Errorf("account: indexes: %w", err)
	}
	for _, coll := range []string{sessionsCollection, secondFactorUsesCollection, identitiesCollection} {
		if _, err := db.Collection(coll).Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user"),
		}); err != nil {
			return fmt.Errorf("account: indexes: %w", err)
		}
	}
	return nil
}

// NormalizeEmail lowercases and trims an address and checks its form.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 254 || strings.ContainsAny(s, " <>\"") {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") && !strings.HasSuffix(s, "@localhost") {
		return "", ErrInvalidEmail
	}
	return s, nil
}

// NewID makes a random, URL-safe identifier (160 bits).
func NewID() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func hashToken(token string) string {
	// Every signed-in request hashes its token: the bytes are hashed and
	// encoded on the stack, and only the result is allocated (tokens
	// longer than the buffer, which Session refuses anyway, are copied).
	var buf [128]byte
	b := buf[:0]
	if len(token) <= len(buf) {
		b = append(b, token...)
	} else {
		b = []byte(token)
	}
	sum := sha256.Sum256(b)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// Registration is what a person gives to create an account.
type Registration struct {
	Email, Name, Password, Organisation, OrganisationOther string
	Role                                                   string
	// OrgID and UnitID are the organisation's short code and the unit in
	// the directory; the caller has checked them against it.
	OrgID, UnitID string
	// Lang is the language the person registered in (their e-mails').
	Lang string
}

// Validate checks a registration and returns every problem.
func (r *Registration) Validate() []error {
	var errs []error
	email, err := NormalizeEmail(r.Email)
	if err != nil {
		errs = append(errs, err)
	}
	r.Email = email
	r.Name = strings.TrimSpace(r.Name)
	if n := utf8.RuneCountInString(r.Name); n < 2 || n > 100 || strings.ContainsAny(r.Name, "<>\x00") {
		errs = append(errs, ErrInvalidName)
	}
	// An organisation of the directory (OrgID, its name resolved by the
	// caller), "muu" with free text, or a name of the old list.
	valid := ValidOrganisation(r.Organisation) || r.OrgID != "" && r.Organisation != "" && r.Organisation != OtherOrganisation
	r.OrganisationOther = strings.TrimSpace(r.OrganisationOther)
	if !valid || (r.Organisation == OtherOrganisation && (r.OrganisationOther == "" || utf8.RuneCountInString(r.OrganisationOther) > 100)) {
		errs = append(errs, ErrInvalidOrg)
	}
	if r.Organisation != OtherOrganisation {
		r.OrganisationOther = ""
	}
	if r.Role == "" {
		r.Role = RoleLearner
	}
	if !ValidRole(r.Role) {
		errs = append(errs, ErrInvalidRole)
	}
	if err := CheckPassword(r.Password, r.Email, r.Name); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// Register creates an account. A taken address gives ErrEmailTaken; the
// UI shows the same answer as for a new account, so nothing is revealed.
func (s *Store) Register(ctx context.Context, r Registration) (*User, []error) {
	if errs := r.Validate(); len(errs) > 0 {
		return nil, errs
	}
	hash, err := HashPassword(ctx, r.Password)
	if err != nil {
		return nil, []error{err}
	}
	now := s.now().UTC()
	if r.Organisation == OtherOrganisation {
		r.OrgID, r.UnitID = "", ""
	}
	u := &User{ID: NewID(), Email: r.Email, Name: r.Name, Organisation: r.Organisation, OrganisationOther: r.OrganisationOther,
		OrgID: r.OrgID, UnitID: r.UnitID, Role: r.Role, PasswordHash: hash, CreatedAt: now, PasswordChangedAt: now, Lang: r.Lang}
	if err := s.insertUser(ctx, u); err != nil {
		return nil, []error{err}
	}
	s.tell(u.ID)
	return u, nil
}

// emailKey is an address's key: the account that has the address, read
// by _id (UserByEmail). users.email's unique index stays the authority on
// who has an address; a key only finds the account fast. A key is written
// before its account takes the address, so that no account is without
// one (a crash between the two leaves a key to nobody, which finds
// nothing), and dropped after the account lets the address go. A key
// that names an account which no longer has its address (two writers of
// one address at once, a write cut short) is mended when read.
type emailKey struct {
	Email  string `bson:"_id"`
	UserID string `bson:"user_id"`
}

// claimEmailKey writes an address's key for userID before the account
// takes the address: a key naming an account that has the address is
// ErrEmailTaken; one to nobody else's address is taken over.
func (s *Store) claimEmailKey(ctx context.Context, email, userID string) error {
	keys := s.db.Collection(emailKeysCollection)
	_, err := keys.InsertOne(ctx, emailKey{Email: email, UserID: userID})
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("account: e-mail key: %w", err)
	}
	var k emailKey
	err = keys.FindOne(ctx, bson.D{{Key: "_id", Value: email}}).Decode(&k)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("account: e-mail key: %w", err)
	}
	if err == nil && k.UserID != userID {
		owner, err := s.User(ctx, k.UserID)
		if err == nil && owner.Email == email {
			return ErrEmailTaken
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return s.setEmailKey(ctx, email, userID)
}

// setEmailKey writes an address's key, over any key it had.
func (s *Store) setEmailKey(ctx context.Context, email, userID string) error {
	keys := s.db.Collection(emailKeysCollection)
	_, err := keys.ReplaceOne(ctx, bson.D{{Key: "_id", Value: email}}, emailKey{Email: email, UserID: userID}, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // the upsert met another's insert: write over it
		_, err = keys.ReplaceOne(ctx, bson.D{{Key: "_id", Value: email}}, emailKey{Email: email, UserID: userID})
	}
	if err != nil {
		return fmt.Errorf("account: e-mail key: %w", err)
	}
	return nil
}

// dropEmailKey removes an address's key if it still names userID: one
// delete whose filter names both, so that a key another account claimed
// meanwhile stays (on FerretDB the filter reads the keys: this is done
// only when an address is let go).
func (s *Store) dropEmailKey(ctx context.Context, email, userID string) error {
	if _, err := s.db.Collection(emailKeysCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: email}, {Key: "user_id", Value: userID}}); err != nil {
		return fmt.Errorf("account: e-mail key: %w", err)
	}
	return nil
}

// userByEmailScan reads the account that has an address by the address
// itself, which reads every account on FerretDB, and mends the address's
// key: only for a key found naming an account without the address
// (stale, "" when unknown). With no account at the address the stale key
// goes, so that the next lookup does not read them all again.
func (s *Store) userByEmailScan(ctx context.Context, email, stale string) (*User, error) {
	var u User
	err := s.db.Collection(usersCollection).FindOne(ctx, bson.D{{Key: "email", Value: email}}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if stale != "" {
			if err := s.dropEmailKey(ctx, email, stale); err != nil {
				return nil, err
			}
		}
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := s.setEmailKey(ctx, email, u.ID); err != nil {
		return nil, err
	}
	return &u, nil
}

// insertUser writes a new account after its address's key; a taken
// address is ErrEmailTaken.
func (s *Store) insertUser(ctx context.Context, u *User) error {
	if err := s.claimEmailKey(ctx, u.Email, u.ID); err != nil {
		return err
	}
	if _, err := s.db.Collection(usersCollection).InsertOne(ctx, u); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			// Another account took the address after the key was
			// written: point the key at it.
			if _, err := s.userByEmailScan(ctx, u.Email, ""); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			return ErrEmailTaken
		}
		return err // the key names nobody: harmless, taken over by the next claim
	}
	return nil
}

// Any reports whether there is at least one account. It reads one
// document: counting them all reads every account on FerretDB (22 s at
// the start of a server with 100,000 accounts on the embedded store).
func (s *Store) Any(ctx context.Context) (bool, error) {
	err := s.db.Collection(usersCollection).FindOne(ctx, bson.D{}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// User finds an account by id.
func (s *Store) User(ctx context.Context, id string) (*User, error) {
	var u User
	err := s.db.Collection(usersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	return &u, err
}

// UserByEmail finds an account by address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, ErrNotFound
	}
	var k emailKey
	err = s.db.Collection(emailKeysCollection).FindOne(ctx, bson.D{{Key: "_id", Value: email}}).Decode(&k)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	u, err := s.User(ctx, k.UserID)
	if err == nil && u.Email == email {
		return u, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	// The key names an account without the address: mend it.
	return s.userByEmailScan(ctx, email, k.UserID)
}

// Authenticate checks an address and password. It takes the same time
// whether or not the account exists, and answers ErrBadCredentials for a
// wrong password, an unknown address and a disabled account alike.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	hash := dummyHash
	if u != nil && u.PasswordHash != "" { // none: made by an identity provider
		hash = u.PasswordHash
	}
	ok, verr := VerifyPassword(ctx, hash, password)
	if verr != nil {
		return nil, verr
	}
	if u == nil || u.PasswordHash == "" || !ok || u.Disabled {
		return nil, ErrBadCredentials
	}
	return u, nil
}

// SetPassword replaces a password and ends every session of the account.
func (s *Store) SetPassword(ctx context.Context, u *User, password string) error {
	if err := CheckPassword(password, u.Email, u.Name); err != nil {
		return err
	}
	hash, err := HashPassword(ctx, password)
	if err != nil {
		return err
	}
	_, err = s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: bson.D{
		{Key: "password_hash", Value: hash}, {Key: "password_changed_at", Value: s.now().UTC()}}}})
	if err != nil {
		return err
	}
	_, err = s.EndAllSessions(ctx, u.ID, "")
	return err
}

// SetRole changes an account's role.
func (s *Store) SetRole(ctx context.Context, email, role string) (*User, error) {
	if !ValidRole(role) {
		return nil, ErrInvalidRole
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if role == RoleReporter && !u.InListedOrganisation() {
		return nil, ErrReporterOrganisation
	}
	// A role an administrator gives is theirs, not the provider's.
	if _, err := s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: bson.D{{Key: "role", Value: role}, {Key: "role_from_provider", Value: false}}}}); err != nil {
		return nil, err
	}
	s.dropSessions(ctx, u.ID)
	s.tell(u.ID)
	u.Role, u.RoleFromProvider = role, false
	return u, nil
}

// Delete removes an account and its sessions; other packages remove what
// they keep of the user (progress, answers) before calling this.
func (s *Store) Delete(ctx context.Context, id string) error {
	defer s.tell(id)
	defer s.dropSessions(ctx, id)
	if err := s.ForgetInAudit(ctx, id); err != nil {
		return err
	}
	if _, err := s.db.Collection(sessionsCollection).DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}}); err != nil {
		return err
	}
	if _, err := s.db.Collection(resetsCollection).DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}}); err != nil {
		return err
	}
	if _, err := s.db.Collection(secondFactorUsesCollection).DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}}); err != nil {
		return err
	}
	if _, err := s.db.Collection(tokensCollection).DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}}); err != nil {
		return err
	}
	// Its links to identity providers: a later sign-in there makes a new
	// account.
	if _, err := s.db.Collection(identitiesCollection).DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}}); err != nil {
		return err
	}
	u, err := s.User(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// Removed before, perhaps without its key (a removal cut short):
		// the keys that name it go (a filter that reads the keys, on this
		// path only).
		if _, err := s.db.Collection(emailKeysCollection).DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}}); err != nil {
			return fmt.Errorf("account: e-mail key: %w", err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := s.db.Collection(usersCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return err
	}
	return s.dropEmailKey(ctx, u.Email, id)
}

type resetDoc struct {
	ID        string    `bson:"_id"` // sha256 of the token
	UserID    string    `bson:"user_id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// IssueReset makes a one-time password reset token valid for ttl (an
// hour for the self-service link, longer for one an administrator hands
// over).
func (s *Store) IssueReset(ctx context.Context, email string, ttl time.Duration) (token string, u *User, err error) {
	u, err = s.UserByEmail(ctx, email)
	if err != nil {
		return "", nil, err
	}
	token = NewID() + NewID()
	_, err = s.db.Collection(resetsCollection).InsertOne(ctx, resetDoc{ID: hashToken(token), UserID: u.ID, ExpiresAt: s.now().Add(ttl).UTC()})
	return token, u, err
}

// CheckReset says whether a reset token still works (for the form).
func (s *Store) CheckReset(ctx context.Context, token string) error {
	var d resetDoc
	err := s.db.Collection(resetsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: hashToken(token)}}).Decode(&d)
	if err != nil || s.now().After(d.ExpiresAt) {
		return ErrTokenInvalid
	}
	return nil
}

// UseReset sets a new password with a reset token; the token works once,
// across instances too: its use is claimed by a unique insert. A password
// the rules refuse leaves the token usable.
func (s *Store) UseReset(ctx context.Context, token, password string) (*User, error) {
	defer s.locks.Lock("reset|" + hashToken(token))()
	var d resetDoc
	err := s.db.Collection(resetsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: hashToken(token)}}).Decode(&d)
	if err != nil || s.now().After(d.ExpiresAt) {
		return nil, ErrTokenInvalid
	}
	u, err := s.User(ctx, d.UserID)
	if err != nil {
		return nil, ErrTokenInvalid
	}
	if err := CheckPassword(password, u.Email, u.Name); err != nil {
		return nil, err
	}
	ok, err := s.claimToken(ctx, "reset/"+d.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrTokenInvalid
	}
	_, _ = s.db.Collection(resetsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}})
	if !u.EmailVerified {
		// The account's address came from a source that did not vouch for
		// it (an LTI platform); the link sent to it proves who owns it.
		// The source's people no longer sign in to it, and their sessions
		// end, before the owner's password is set.
		if _, err := s.UnlinkIdentities(ctx, u.ID); err != nil {
			return nil, err
		}
		if _, err := s.EndAllSessions(ctx, u.ID, ""); err != nil {
			return nil, err
		}
		if err := s.MarkEmailVerified(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	if err := s.SetPassword(ctx, u, password); err != nil {
		return nil, err
	}
	return u, nil
}

// Users lists accounts whose email or name contains query (all when
// empty), sorted by email, at most limit.
func (s *Store) Users(ctx context.Context, query string, limit int64) ([]User, error) {
	return s.UsersSorted(ctx, query, SortEmail, limit)
}

// The orders of the administrators' user list.
const (
	SortEmail        = "email"
	SortName         = "name"
	SortRole         = "role"
	SortOrganisation = "organisation"
	SortLastActive   = "last_active" // the most recently active first
)

// ValidUserSort reports whether sort is one of the user list's orders.
func ValidUserSort(sort string) bool {
	switch sort {
	case SortEmail, SortName, SortRole, SortOrganisation, SortLastActive:
		return true
	}
	return false
}

// UsersSorted is Users in the order sort names (SortEmail when unknown);
// ties are broken by e-mail address.
func (s *Store) UsersSorted(ctx context.Context, query, sort string, limit int64) ([]User, error) {
	order := bson.D{{Key: "email", Value: 1}}
	switch sort {
	case SortName, SortRole, SortOrganisation:
		order = bson.D{{Key: sort, Value: 1}, {Key: "email", Value: 1}}
	case SortLastActive:
		order = bson.D{{Key: "last_active", Value: -1}, {Key: "email", Value: 1}}
	}
	filter := bson.D{}
	if q := strings.TrimSpace(query); q != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}
		filter = bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "email", Value: re}}, bson.D{{Key: "name", Value: re}}}}}
	}
	cur, err := s.db.Collection(usersCollection).Find(ctx, filter, options.Find().SetSort(order).SetLimit(limit))
	if err != nil {
		return nil, err
	}
	var out []User
	return out, cur.All(ctx, &out)
}

// UsersPage is a page of Users in the order sort names, after the
// cursor after ("" for the first page), at most size; next is the cursor
// of the following page ("" after the last). A cursor of another order
// is database.ErrCursor.
func (s *Store) UsersPage(ctx context.Context, query, sort, after string, size int) (users []User, next string, err error) {
	ks := database.Keyset{Tie: "email"}
	switch sort {
	case SortName, SortRole, SortOrganisation:
		ks.Field = sort
	case SortLastActive:
		ks.Field, ks.Desc = "last_active", true
	}
	filter := bson.D{}
	if q := strings.TrimSpace(query); q != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}
		filter = bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "email", Value: re}}, bson.D{{Key: "name", Value: re}}}}}
	}
	if filter, err = ks.Filter(filter, after); err != nil {
		return nil, "", err
	}
	cur, err := s.db.Collection(usersCollection).Find(ctx, filter, ks.Options(size))
	if err != nil {
		return nil, "", err
	}
	var rows []User
	if err := cur.All(ctx, &rows); err != nil {
		return nil, "", err
	}
	users, next = database.Page(rows, size, func(u User) string {
		switch sort {
		case SortName:
			return database.CursorOf(u.Name, u.Email)
		case SortRole:
			return database.CursorOf(u.Role, u.Email)
		case SortOrganisation:
			return database.CursorOf(u.Organisation, u.Email)
		case SortLastActive:
			return database.CursorOf(u.LastActive, u.Email)
		}
		return database.CursorOf(nil, u.Email)
	})
	return users, next, nil
}

// SetClockForTest makes the store believe it is at (for tests in other
// packages of time-dependent behaviour such as retention).
func (s *Store) SetClockForTest(at time.Time) { s.now = func() time.Time { return at } }

// Inactive lists learners (never administrators or authors) who have not
// been active since before, at most limit.
func (s *Store) Inactive(ctx context.Context, before time.Time, limit int64) ([]User, error) {
	filter := bson.D{
		{Key: "role", Value: RoleLearner},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "last_active", Value: bson.D{{Key: "$lt", Value: before}}}},
			bson.D{{Key: "last_active", Value: bson.D{{Key: "$exists", Value: false}}}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: before}}}},
		}},
	}
	cur, err := s.db.Collection(usersCollection).Find(ctx, filter, options.Find().SetLimit(limit))
	if err != nil {
		return nil, err
	}
	out := []User{}
	return out, cur.All(ctx, &out)
}

// Lease takes a job for this instance until the lease ends, if no other
// instance holds it (the holder renews it by taking it again): the job
// runs once across instances. The lease is database.DB.Lease, which rests
// on inserting claims under a unique _id.
func (s *Store) Lease(ctx context.Context, job, holder string, d time.Duration) (bool, error) {
	return s.db.Lease(ctx, job, holder, d)
}

// RoleReporter sees the aggregate reports of one organisation (their own);
// administrators see every organisation's.
const RoleReporter = "reporter"

// LearnerRow is what the reports need of an account: no name or address.
type LearnerRow struct {
	ID           string    `bson:"_id"`
	Organisation string    `bson:"organisation"`
	OrgID        string    `bson:"org_id,omitempty"`
	UnitID       string    `bson:"unit_id,omitempty"`
	Role         string    `bson:"role"`
	CreatedAt    time.Time `bson:"created_at"`
	LastActive   time.Time `bson:"last_active"`
}

// LearnerRows lists the learner accounts, lightly, for the reports (which
// filter by organisation themselves).
func (s *Store) LearnerRows(ctx context.Context) ([]LearnerRow, error) {
	return s.rows(ctx, bson.D{{Key: "role", Value: RoleLearner}})
}

// AccountRows lists every account (any role) as LearnerRow, for the
// reports' summaries (an assignment's evidence counts every role's
// studies; the organisation reports only learners').
func (s *Store) AccountRows(ctx context.Context) ([]LearnerRow, error) {
	return s.rows(ctx, bson.D{})
}

func (s *Store) rows(ctx context.Context, filter bson.D) ([]LearnerRow, error) {
	cur, err := s.db.Collection(usersCollection).Find(ctx, filter, options.Find().SetProjection(bson.D{
		{Key: "organisation", Value: 1}, {Key: "org_id", Value: 1}, {Key: "unit_id", Value: 1}, {Key: "role", Value: 1}, {Key: "created_at", Value: 1}, {Key: "last_active", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	var out []LearnerRow
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	return out, nil
}

// SameDay says whether two times fall on one day in Helsinki (the reports
// count activity by the day).
func SameDay(a, b time.Time) bool {
	a, b = a.In(i18n.Helsinki), b.In(i18n.Helsinki)
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// LearnerRow is one account's row for the reports, read now; nil when
// there is no such account.
func (s *Store) LearnerRow(ctx context.Context, id string) (*LearnerRow, error) {
	var row LearnerRow
	err := s.db.Collection(usersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{
		{Key: "organisation", Value: 1}, {Key: "org_id", Value: 1}, {Key: "unit_id", Value: 1}, {Key: "role", Value: 1}, {Key: "created_at", Value: 1}, {Key: "last_active", Value: 1}})).Decode(&row)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	return &row, nil
}

// SetDisabled disables an account (its sessions end and it cannot sign
// in) or enables it again.
func (s *Store) SetDisabled(ctx context.Context, id string, disabled bool) error {
	defer s.dropSessions(ctx, id)
	r, err := s.db.Collection(usersCollection).UpdateByID(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "disabled", Value: disabled}}}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrNotFound
	}
	if disabled {
		_, err = s.EndAllSessions(ctx, id, "")
	}
	return err
}

// MemberRow is what an organisation's assignments need of an account: who
// it is and where in the organisation.
type MemberRow struct {
	ID     string `bson:"_id"`
	Email  string `bson:"email"`
	Name   string `bson:"name"`
	OrgID  string `bson:"org_id,omitempty"`
	UnitID string `bson:"unit_id,omitempty"`
	// Reminders and Lang decide the assignment e-mails.
	Reminders bool     `bson:"reminders"`
	Lang      string   `bson:"lang,omitempty"`
	Disabled  bool     `bson:"disabled"`
	Groups    []string `bson:"groups,omitempty"`
}

// Members are the enabled accounts of an organisation of the directory.
func (s *Store) Members(ctx context.Context, orgID string) ([]MemberRow, error) {
	cur, err := s.db.Collection(usersCollection).Find(ctx, bson.D{{Key: "org_id", Value: orgID}}, options.Find().SetProjection(bson.D{
		{Key: "email", Value: 1}, {Key: "name", Value: 1}, {Key: "org_id", Value: 1}, {Key: "unit_id", Value: 1},
		{Key: "reminders", Value: 1}, {Key: "lang", Value: 1}, {Key: "disabled", Value: 1}, {Key: "groups", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	var rows []MemberRow
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	out := rows[:0]
	for _, r := range rows {
		if !r.Disabled && r.OrgID == orgID {
			out = append(out, r)
		}
	}
	return out, nil
}

// SetGroups keeps the groups an identity provider named for the account
// (at most 200, each at most 200 characters; others are dropped).
func (s *Store) SetGroups(ctx context.Context, userID string, groups []string) error {
	var keep []string
	for _, g := range groups {
		g = strings.TrimSpace(g)
		if g != "" && len(g) <= 200 && utf8.ValidString(g) && !slices.Contains(keep, g) && len(keep) < 200 {
			keep = append(keep, g)
		}
	}
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "groups", Value: keep}}}}
	if len(keep) == 0 {
		set = bson.D{{Key: "$unset", Value: bson.D{{Key: "groups", Value: ""}}}}
	}
	r, err := s.db.Collection(usersCollection).UpdateByID(ctx, userID, set)
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrNotFound
	}
	s.dropSessions(ctx, userID)
	return nil
}
