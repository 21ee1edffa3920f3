package account

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// identitiesCollection links an account to a person at an OpenID
// provider: {_id: issuer + " " + subject, user_id, issuer, subject,
// created_at}. The _id makes the link a claim: one (issuer, subject) is
// one account, however many sign-ins race to create it.
const identitiesCollection = "identities"

// Identity is a person at an identity provider, linked to an account.
type Identity struct {
	ID        string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	Issuer    string    `bson:"issuer"`
	Subject   string    `bson:"subject"`
	CreatedAt time.Time `bson:"created_at"`
}

// ErrIdentityTaken: the (issuer, subject) is linked to another account.
var ErrIdentityTaken = errors.New("account: the identity is linked to another account")

func identityID(issuer, subject string) string { return issuer + " " + subject }

// UserByIdentity is the account linked to (issuer, subject), or
// ErrNotFound.
func (s *Store) UserByIdentity(ctx context.Context, issuer, subject string) (*User, error) {
	var id Identity
	err := s.db.Collection(identitiesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: identityID(issuer, subject)}}).Decode(&id)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.User(ctx, id.UserID)
}

// LinkIdentity links (issuer, subject) to the account; linking it again
// to the same account is nothing, to another ErrIdentityTaken.
func (s *Store) LinkIdentity(ctx context.Context, issuer, subject, userID string) error {
	_, err := s.db.Collection(identitiesCollection).InsertOne(ctx, Identity{ID: identityID(issuer, subject), UserID: userID,
		Issuer: issuer, Subject: subject, CreatedAt: s.now().UTC().Truncate(time.Millisecond)})
	if mongo.IsDuplicateKeyError(err) {
		var got Identity
		if err := s.db.Collection(identitiesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: identityID(issuer, subject)}}).Decode(&got); err != nil {
			return err
		}
		if got.UserID != userID {
			return ErrIdentityTaken
		}
		return nil
	}
	return err
}

// External is a person an identity provider vouches for, for an account
// made just in time.
type External struct {
	ID                          string // the new account's id (NewID)
	Email, Name                 string
	OrgID, Organisation, UnitID string
	Lang                        string
	// Unverified: the address comes from a source that does not vouch for
	// it (an LTI platform); the account's address is then unverified, and
	// whoever proves it later by a reset link takes the account over from
	// the source (see UseReset).
	Unverified bool
}

// CreateExternal makes a learner account for a person an identity
// provider signed in: no password (password sign-in cannot succeed until
// the person sets one with a reset link), the address verified by the
// provider. A taken address is ErrEmailTaken.
func (s *Store) CreateExternal(ctx context.Context, e External) (*User, error) {
	email, err := NormalizeEmail(e.Email)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(e.Name)
	if n := utf8.RuneCountInString(name); n < 2 || n > 100 || strings.ContainsAny(name, "<>\x00") {
		name = email[:strings.IndexByte(email, '@')]
		if utf8.RuneCountInString(name) < 2 {
			name = email
		}
	}
	now := s.now().UTC()
	u := &User{ID: e.ID, Email: email, Name: name, Organisation: e.Organisation, OrgID: e.OrgID, UnitID: e.UnitID, Role: RoleLearner,
		CreatedAt: now, EmailVerified: !e.Unverified, Lang: e.Lang}
	if u.EmailVerified {
		u.EmailVerifiedAt = now
	}
	if err := s.insertUser(ctx, u); err != nil {
		return nil, err
	}
	s.tell(u.ID)
	return u, nil
}

// SetUnitFromProvider records the unit an identity provider's claim
// names (the caller found it in the account's organisation).
func (s *Store) SetUnitFromProvider(ctx context.Context, userID, unitID string) error {
	_, err := s.db.Collection(usersCollection).UpdateByID(ctx, userID, bson.D{{Key: "$set", Value: bson.D{{Key: "unit_id", Value: unitID}}}})
	s.dropSessions(ctx, userID)
	s.tell(userID)
	return err
}

// SetRoleFromProvider gives or takes the reporter role on an identity
// provider's group claim: only between learner and reporter (authors and
// administrators are never made by a claim), and the role is marked as
// the provider's, so that it goes with the claim.
func (s *Store) SetRoleFromProvider(ctx context.Context, userID string, reporter bool) (*User, error) {
	u, err := s.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	from, to := RoleLearner, RoleReporter
	if !reporter {
		from, to = RoleReporter, RoleLearner
	}
	if u.Role != from || !reporter && !u.RoleFromProvider {
		return u, nil // not the provider's to change
	}
	if reporter && !u.InListedOrganisation() {
		return nil, ErrReporterOrganisation
	}
	r, err := s.db.Collection(usersCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: u.ID}, {Key: "role", Value: from}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "role", Value: to}, {Key: "role_from_provider", Value: reporter}}}})
	if err != nil {
		return nil, err
	}
	s.dropSessions(ctx, u.ID)
	s.tell(u.ID)
	if r.MatchedCount == 1 {
		u.Role, u.RoleFromProvider = to, reporter
	}
	return u, nil
}

// UnlinkIdentities removes every identity linked to the account (the
// person at those providers no longer signs in to it) and returns how
// many went.
func (s *Store) UnlinkIdentities(ctx context.Context, userID string) (int, error) {
	cur, err := s.db.Collection(identitiesCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return 0, err
	}
	var ids []Identity
	if err := cur.All(ctx, &ids); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := s.db.Collection(identitiesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: id.ID}}); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
