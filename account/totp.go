package account

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Issuer names the platform in authenticator apps.
const Issuer = "Työkyky"

// BeginTOTP makes a new secret for the user (not yet enabled) and returns
// the key for the QR code and manual entry.
func (s *Store) BeginTOTP(ctx context.Context, u *User) (*otp.Key, error) {
	defer s.sessions.DeleteGroup(u.ID)
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: u.Email, SecretSize: 20})
	if err != nil {
		return nil, err
	}
	_, err = s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: bson.D{
		{Key: "totp_secret", Value: key.Secret()}, {Key: "totp_enabled", Value: false}}}})
	return key, err
}

func (s *Store) validCode(secret, code string) bool {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	ok, _ := totp.ValidateCustom(code, secret, s.now().UTC(), totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	return ok
}

// ConfirmTOTP enables two-factor authentication when the code from the
// app matches, and returns ten one-time recovery codes (shown once).
func (s *Store) ConfirmTOTP(ctx context.Context, u *User, code string) ([]string, error) {
	defer s.sessions.DeleteGroup(u.ID)
	fresh, err := s.User(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if fresh.TOTPSecret == "" || !s.validCode(fresh.TOTPSecret, code) {
		return nil, ErrBadCode
	}
	codes := make([]string, 10)
	hashes := make([]string, 10)
	for i := range codes {
		raw := strings.ToUpper(NewID()[:10])
		codes[i] = raw[:5] + "-" + raw[5:]
		hashes[i] = hashToken(codes[i])
	}
	_, err = s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: bson.D{
		{Key: "totp_enabled", Value: true}, {Key: "recovery_codes", Value: hashes}}}})
	return codes, err
}

// VerifySecondFactor accepts a current TOTP code or an unused recovery
// code (which is then used up).
func (s *Store) VerifySecondFactor(ctx context.Context, u *User, code string) error {
	defer s.locks.Lock(u.ID)()
	fresh, err := s.User(ctx, u.ID)
	if err != nil || !fresh.TOTPEnabled {
		return ErrBadCode
	}
	if s.validCode(fresh.TOTPSecret, code) {
		return nil
	}
	h := hashToken(strings.ToUpper(strings.TrimSpace(code)))
	for _, stored := range fresh.RecoveryCodes {
		if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) == 1 {
			// Pull it atomically: a code works once even if used twice at once.
			r, err := s.db.Collection(usersCollection).UpdateOne(ctx,
				bson.D{{Key: "_id", Value: u.ID}, {Key: "recovery_codes", Value: h}},
				bson.D{{Key: "$pull", Value: bson.D{{Key: "recovery_codes", Value: h}}}})
			if err != nil {
				return err
			}
			if r.ModifiedCount == 1 {
				return nil
			}
		}
	}
	return ErrBadCode
}

// DisableTOTP turns two-factor authentication off (not allowed for roles
// that require it).
func (s *Store) DisableTOTP(ctx context.Context, u *User) error {
	defer s.sessions.DeleteGroup(u.ID)
	if u.NeedsTwoFactor() {
		return fmt.Errorf("account: two-factor authentication is required for the %s role", u.Role)
	}
	_, err := s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{
		{Key: "$set", Value: bson.D{{Key: "totp_enabled", Value: false}}},
		{Key: "$unset", Value: bson.D{{Key: "totp_secret", Value: ""}, {Key: "recovery_codes", Value: ""}}}})
	return err
}

// CodeAt is the TOTP code for a secret at a time (tests and the CLI).
func CodeAt(secret string, t time.Time) (string, error) {
	return totp.GenerateCode(secret, t)
}
