package account

import (
	"context"
	"crypto/subtle"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tyokyky/tyokyky/internal/fault"
)

// Issuer names the platform in authenticator apps.
const Issuer = "Työkyky"

// secondFactorUsesCollection holds one document per TOTP time step and per
// recovery code that has been accepted. Its _id is unique, so across
// instances exactly one request can use a step or a code: the guarantee
// rests on the insert, not on a conditional update (which FerretDB does
// not make atomic across instances).
const secondFactorUsesCollection = "second_factor_uses"

// keepUses is how long used steps are remembered: far past the window in
// which a code is accepted (three 30-second steps).
const keepUses = 10 * time.Minute

// ErrTwoFactorRequired refuses turning two-factor authentication off for
// a role that must use it.
var ErrTwoFactorRequired = fault.New(fault.Forbidden, "two_factor_required", "", "the role requires two-factor authentication")

// BeginTOTP makes a new secret for the user and keeps it aside as pending:
// the active secret (if any) stays in force until ConfirmTOTP proves the
// new authenticator works. The caller decides who may begin (a signed-in
// user with a CSRF-checked POST; with two-factor already on, after the
// password and a current code).
func (s *Store) BeginTOTP(ctx context.Context, u *User) (*otp.Key, error) {
	defer s.dropSessions(ctx, u.ID)
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: u.Email, SecretSize: 20})
	if err != nil {
		return nil, err
	}
	_, err = s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: bson.D{
		{Key: "totp_pending", Value: key.Secret()}}}})
	return key, err
}

// matchStep is the 30-second time step a code is valid for (the current
// one or one on either side), or -1.
func (s *Store) matchStep(secret, code string) int64 {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 || secret == "" {
		return -1
	}
	now := s.now().UTC()
	step := now.Unix() / 30
	for _, d := range []int64{0, -1, 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d
		}
	}
	return -1
}

// claimUse records that a TOTP step or recovery code of a user was used;
// false when it was used already (by this or another instance).
func (s *Store) claimUse(ctx context.Context, userID, what string) (bool, error) {
	now := s.now()
	uses := s.db.Collection(secondFactorUsesCollection)
	_, err := uses.InsertOne(ctx, bson.D{{Key: "_id", Value: userID + "/" + what}, {Key: "user_id", Value: userID}, {Key: "at", Value: now}})
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// Forget the user's uses that can no longer matter.
	_, _ = uses.DeleteMany(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "at", Value: bson.D{{Key: "$lt", Value: now.Add(-keepUses)}}}})
	return true, nil
}

// stepUse names a step of one secret: a new authenticator's first code
// may fall in the step the old one's code was just used in.
func stepUse(secret string, step int64) string {
	return "totp/" + hashToken(secret)[:16] + "/" + strconv.FormatInt(step, 10)
}

// useStep accepts a code's step once: never a step at or before the last
// one accepted, and never the same step twice even when two requests
// race on different instances.
func (s *Store) useStep(ctx context.Context, u *User, step int64) error {
	if step < 0 || step <= u.TOTPLastStep {
		return ErrBadCode
	}
	ok, err := s.claimUse(ctx, u.ID, stepUse(u.TOTPSecret, step))
	if err != nil {
		return err
	}
	if !ok {
		return ErrBadCode
	}
	_, err = s.db.Collection(usersCollection).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: u.ID}, {Key: "$or", Value: bson.A{
			bson.D{{Key: "totp_last_step", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "totp_last_step", Value: bson.D{{Key: "$lt", Value: step}}}}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "totp_last_step", Value: step}}}})
	s.dropSessions(ctx, u.ID) // sessions carry the user's last step
	return err
}

// ConfirmTOTP makes the pending secret the active one when the code from
// the new authenticator matches, and returns ten one-time recovery codes
// (shown once); older recovery codes stop working.
func (s *Store) ConfirmTOTP(ctx context.Context, u *User, code string) ([]string, error) {
	defer s.dropSessions(ctx, u.ID)
	defer s.locks.Lock(u.ID)()
	fresh, err := s.User(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	step := s.matchStep(fresh.TOTPPending, code)
	if step < 0 {
		return nil, ErrBadCode
	}
	ok, err := s.claimUse(ctx, u.ID, stepUse(fresh.TOTPPending, step))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrBadCode
	}
	codes := make([]string, 10)
	hashes := make([]string, 10)
	for i := range codes {
		raw := strings.ToUpper(NewID()[:10])
		codes[i] = raw[:5] + "-" + raw[5:]
		hashes[i] = hashToken(codes[i])
	}
	_, err = s.db.Collection(usersCollection).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: u.ID}, {Key: "totp_pending", Value: fresh.TOTPPending}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "totp_secret", Value: fresh.TOTPPending}, {Key: "totp_enabled", Value: true},
				{Key: "recovery_codes", Value: hashes}, {Key: "totp_last_step", Value: step}}},
			{Key: "$unset", Value: bson.D{{Key: "totp_pending", Value: ""}}}})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// VerifySecondFactor accepts a current TOTP code whose time step has not
// been used before, or an unused recovery code (which is then used up).
func (s *Store) VerifySecondFactor(ctx context.Context, u *User, code string) error {
	defer s.locks.Lock(u.ID)()
	fresh, err := s.User(ctx, u.ID)
	if err != nil || !fresh.TOTPEnabled {
		return ErrBadCode
	}
	if step := s.matchStep(fresh.TOTPSecret, code); step >= 0 {
		return s.useStep(ctx, fresh, step)
	}
	h := hashToken(strings.ToUpper(strings.TrimSpace(code)))
	for _, stored := range fresh.RecoveryCodes {
		if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) == 1 {
			// Claimed by an insert: a code works once even if used twice
			// at once on two instances; then pulled from the list.
			ok, err := s.claimUse(ctx, u.ID, "recovery/"+h)
			if err != nil {
				return err
			}
			if !ok {
				return ErrBadCode
			}
			_, err = s.db.Collection(usersCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: u.ID}},
				bson.D{{Key: "$pull", Value: bson.D{{Key: "recovery_codes", Value: h}}}})
			s.dropSessions(ctx, u.ID) // and the codes left
			return err
		}
	}
	return ErrBadCode
}

// DisableTOTP turns two-factor authentication off (refused for roles that
// require it). The caller checks the password and a current code first.
func (s *Store) DisableTOTP(ctx context.Context, u *User) error {
	defer s.dropSessions(ctx, u.ID)
	if u.NeedsTwoFactor() {
		return ErrTwoFactorRequired
	}
	_, err := s.db.Collection(usersCollection).UpdateByID(ctx, u.ID, bson.D{
		{Key: "$set", Value: bson.D{{Key: "totp_enabled", Value: false}}},
		{Key: "$unset", Value: bson.D{{Key: "totp_secret", Value: ""}, {Key: "totp_pending", Value: ""}, {Key: "recovery_codes", Value: ""}}}})
	return err
}

// CodeAt is the TOTP code for a secret at a time (tests and the CLI).
func CodeAt(secret string, t time.Time) (string, error) {
	return totp.GenerateCode(secret, t)
}
