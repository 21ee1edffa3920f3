package account

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/fault"
)

// One-time links sent by e-mail: address verification and unsubscribing
// from reminders. Only a token's SHA-256 is stored. A token is used by
// inserting its hash into tokenUsesCollection under the unique _id, so it
// works once even when several instances race for it.
const (
	tokensCollection    = "account_tokens"
	tokenUsesCollection = "account_token_uses"

	purposeVerify      = "verify"
	purposeUnsubscribe = "unsubscribe"

	// VerifyTTL is how long an address verification link works.
	VerifyTTL = 24 * time.Hour
	// ResetTTL is how long a self-service password reset link works.
	ResetTTL = time.Hour
	// unsubscribeTTL: links in old reminders keep working for a year.
	unsubscribeTTL = 365 * 24 * time.Hour
)

// ErrEmailInUse: the address now belongs to another account.
var ErrEmailInUse = fault.New(fault.Conflict, "email_in_use", "email", "the address belongs to another account")

type tokenDoc struct {
	ID        string    `bson:"_id"` // sha256 of the token
	Purpose   string    `bson:"purpose"`
	UserID    string    `bson:"user_id"`
	Email     string    `bson:"email,omitempty"` // the address being verified
	ExpiresAt time.Time `bson:"expires_at"`
}

func (s *Store) issueToken(ctx context.Context, purpose, userID, email string, ttl time.Duration) (string, error) {
	token := NewID() + NewID()
	_, err := s.db.Collection(tokensCollection).InsertOne(ctx, tokenDoc{ID: hashToken(token), Purpose: purpose, UserID: userID, Email: email,
		ExpiresAt: s.now().Add(ttl).UTC()})
	return token, err
}

// findToken returns a live token of purpose.
func (s *Store) findToken(ctx context.Context, purpose, token string) (*tokenDoc, error) {
	if len(token) < 20 || len(token) > 200 {
		return nil, ErrTokenInvalid
	}
	var d tokenDoc
	err := s.db.Collection(tokensCollection).FindOne(ctx, bson.D{{Key: "_id", Value: hashToken(token)}, {Key: "purpose", Value: purpose}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) || err == nil && s.now().After(d.ExpiresAt) {
		return nil, ErrTokenInvalid
	}
	return &d, err
}

// claimToken marks a token used; false when it was used already.
func (s *Store) claimToken(ctx context.Context, id string) (bool, error) {
	_, err := s.db.Collection(tokenUsesCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "at", Value: s.now().UTC()}})
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	return err == nil, err
}

// IssueVerification makes a link token that verifies the account's
// address, or the pending new address when there is one (valid 24 h).
// It returns the address to send it to.
func (s *Store) IssueVerification(ctx context.Context, u *User) (token, address string, err error) {
	address = u.Email
	if u.EmailPending != "" {
		address = u.EmailPending
	}
	token, err = s.issueToken(ctx, purposeVerify, u.ID, address, VerifyTTL)
	return token, address, err
}

// Verify uses a verification token: the address it was sent to becomes
// the account's verified address. It returns the account and, when the
// address changed, the old address (to notify it). A token works once;
// a pending address another account took meanwhile gives ErrEmailInUse.
func (s *Store) Verify(ctx context.Context, token string) (u *User, oldEmail string, err error) {
	d, err := s.findToken(ctx, purposeVerify, token)
	if err != nil {
		return nil, "", err
	}
	u, err = s.User(ctx, d.UserID)
	if err != nil {
		return nil, "", ErrTokenInvalid
	}
	if d.Email != u.Email && d.Email != u.EmailPending {
		return nil, "", ErrTokenInvalid // the address was changed again since
	}
	// The new address's key first (it may be refused, or fail for a busy
	// store, and the token must then still work).
	if d.Email != u.Email {
		if err := s.claimEmailKey(ctx, d.Email, u.ID); errors.Is(err, ErrEmailTaken) {
			return nil, "", ErrEmailInUse
		} else if err != nil {
			return nil, "", err
		}
	}
	ok, err := s.claimToken(ctx, d.ID)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		// Opened again (or first by a mail filter that follows links):
		// the address is verified already, which is what the person wants
		// to see.
		if u.EmailVerified && u.Email == d.Email {
			return u, "", nil
		}
		return nil, "", ErrTokenInvalid
	}
	set := bson.D{{Key: "email_verified", Value: true}, {Key: "email_verified_at", Value: s.now().UTC()}}
	if d.Email != u.Email {
		oldEmail = u.Email
		set = append(set, bson.E{Key: "email", Value: d.Email})
	}
	_, err = s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "email_pending", Value: ""}}}})
	if mongo.IsDuplicateKeyError(err) {
		// Another account took the address after the key was written.
		if _, err := s.userByEmailScan(ctx, d.Email, ""); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, "", err
		}
		return nil, "", ErrEmailInUse
	}
	if err != nil {
		return nil, "", err
	}
	if oldEmail != "" {
		if err := s.dropEmailKey(ctx, oldEmail, u.ID); err != nil {
			return nil, "", err
		}
	}
	s.dropSessions(ctx, u.ID)
	u, err = s.User(ctx, u.ID)
	return u, oldEmail, err
}

// RequestEmailChange keeps newEmail as the account's pending address until
// it is verified. It gives ErrInvalidEmail for a malformed address and
// ErrEmailTaken when another account has it (the caller must not show
// that difference to the person).
func (s *Store) RequestEmailChange(ctx context.Context, u *User, newEmail string) (string, error) {
	email, err := NormalizeEmail(newEmail)
	if err != nil {
		return "", err
	}
	if email == u.Email {
		return "", ErrInvalidEmail
	}
	if other, err := s.UserByEmail(ctx, email); err == nil && other.ID != u.ID {
		return email, ErrEmailTaken
	}
	if _, err := s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: bson.D{{Key: "email_pending", Value: email}}}}); err != nil {
		return "", err
	}
	s.dropSessions(ctx, u.ID)
	u.EmailPending = email
	return email, nil
}

// Preferences are what the account page sets about e-mail.
type Preferences struct {
	// Reminders turns the study reminders on (off by default).
	Reminders bool
	// Lang is the e-mails' language (fi, sv or en).
	Lang string
}

// SetPreferences saves the e-mail preferences.
func (s *Store) SetPreferences(ctx context.Context, userID string, p Preferences) error {
	_, err := s.db.Collection(usersCollection).UpdateByID(ctx, userID, bson.D{{Key: "$set", Value: bson.D{
		{Key: "reminders", Value: p.Reminders}, {Key: "lang", Value: p.Lang}}}})
	s.dropSessions(ctx, userID)
	return err
}

// UnsubscribeToken makes a token for the one-click unsubscribe link of a
// reminder (it works without signing in, for a year, any number of times).
func (s *Store) UnsubscribeToken(ctx context.Context, userID string) (string, error) {
	return s.issueToken(ctx, purposeUnsubscribe, userID, "", unsubscribeTTL)
}

// Unsubscribe turns the reminders off for the token's account.
func (s *Store) Unsubscribe(ctx context.Context, token string) (*User, error) {
	d, err := s.findToken(ctx, purposeUnsubscribe, token)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.Collection(usersCollection).UpdateByID(ctx, d.UserID, bson.D{{Key: "$set", Value: bson.D{{Key: "reminders", Value: false}}}}); err != nil {
		return nil, err
	}
	s.dropSessions(ctx, d.UserID)
	u, err := s.User(ctx, d.UserID)
	if err != nil {
		return nil, ErrTokenInvalid
	}
	return u, nil
}

// MarkReminded records when the last reminder went to the account.
func (s *Store) MarkReminded(ctx context.Context, userID string, at time.Time) error {
	_, err := s.db.Collection(usersCollection).UpdateByID(ctx, userID, bson.D{{Key: "$set", Value: bson.D{{Key: "last_reminder", Value: at.UTC()}}}})
	s.dropSessions(ctx, userID) // sessions carry the user
	return err
}

// ReminderCandidates lists the learners who asked for reminders, have not
// been active since inactiveSince and were not reminded since
// remindedSince, at most limit.
func (s *Store) ReminderCandidates(ctx context.Context, inactiveSince, remindedSince time.Time, limit int64) ([]User, error) {
	cur, err := s.db.Collection(usersCollection).Find(ctx, bson.D{
		{Key: "reminders", Value: true}, {Key: "disabled", Value: false},
		{Key: "last_active", Value: bson.D{{Key: "$lt", Value: inactiveSince.UTC()}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "last_reminder", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "last_reminder", Value: bson.D{{Key: "$lt", Value: remindedSince.UTC()}}}},
		}},
	}, options.Find().SetLimit(limit))
	if err != nil {
		return nil, err
	}
	var out []User
	return out, cur.All(ctx, &out)
}

// ExpireTokens deletes the link tokens (and their use marks) that no
// longer work.
func (s *Store) ExpireTokens(ctx context.Context) error {
	now := s.now().UTC()
	if _, err := s.db.Collection(tokensCollection).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}}); err != nil {
		return err
	}
	if _, err := s.db.Collection(resetsCollection).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}}); err != nil {
		return err
	}
	_, err := s.db.Collection(tokenUsesCollection).DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: now.Add(-unsubscribeTTL)}}}})
	return err
}

// MarkEmailVerified records that the account's owner proved the address
// (by a link sent to it other than the verification one: a reset).
func (s *Store) MarkEmailVerified(ctx context.Context, userID string) error {
	_, err := s.db.Collection(usersCollection).UpdateByID(ctx, userID, bson.D{{Key: "$set", Value: bson.D{
		{Key: "email_verified", Value: true}, {Key: "email_verified_at", Value: s.now().UTC()}}}})
	s.dropSessions(ctx, userID)
	return err
}
