package api

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/web"
)

// jsonOnly refuses bodies that are not JSON: a cross-site form cannot
// send application/json without a CORS preflight, which this server never
// grants, so the sign-in and registration API need no CSRF token.
func jsonOnly(c *fiber.Ctx) error {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "send the body as application/json")
	}
	return c.Next()
}

type apiUser struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Organisation string `json:"organisation"`
	Role         string `json:"role"`
	TwoFactor    bool   `json:"two_factor"`
}

func userJSON(u *account.User) apiUser {
	org := u.Organisation
	if org == account.OtherOrganisation {
		org = u.OrganisationOther
	}
	return apiUser{ID: u.ID, Email: u.Email, Name: u.Name, Organisation: org, Role: u.Role, TwoFactor: u.TOTPEnabled}
}

type apiToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      apiUser   `json:"user"`
}

func (h *accountHandlers) apiRegister(c *fiber.Ctx) error {
	var in struct {
		Email, Name, Password, Organisation string
		OrganisationOther                   string `json:"organisation_other"`
		Unit                                string // "code/unit id" from GET /api/v1/organisations, or empty
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "the body must be a JSON object")
	}
	ipKey := "register:" + clientIP(c)
	if w := h.registerLimit.Wait(ipKey); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return fiber.NewError(fiber.StatusTooManyRequests, "too many attempts; wait and try again")
	}
	h.registerLimit.Fail(ipKey)
	reg := account.Registration{Email: in.Email, Name: in.Name, Password: in.Password, Organisation: in.Organisation, OrganisationOther: in.OrganisationOther, Lang: h.lang(c)}
	var errs []error
	var u *account.User
	if err := resolveOrganisation(c.UserContext(), h.dir, &reg, in.Unit); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		u, errs = h.accounts.Register(c.UserContext(), reg)
	}
	taken := len(errs) == 1 && errors.Is(errs[0], account.ErrEmailTaken)
	if len(errs) > 0 && !taken {
		var fields []fieldError
		for _, err := range errs {
			field, key := errorMessage(err)
			if key == "err.500" {
				return err
			}
			f, _ := fault.As(err)
			fields = append(fields, fieldError{Field: field, Code: f.Code, Message: web.T(h.apiLang(c), key)})
		}
		return h.problemFields(c, fiber.StatusUnprocessableEntity, "the registration was not accepted", fields)
	}
	// The same answer for a new and a taken address: the account (if it
	// is new) signs in with POST /api/v1/auth/login.
	if err := h.registered(c.UserContext(), u, strings.ToLower(strings.TrimSpace(in.Email)), taken); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "accepted",
		"detail": "if the address had no account, one was created; a message was sent to the address either way"})
}

func (h *accountHandlers) apiLogin(c *fiber.Ctx) error {
	var in struct{ Email, Password, Code string }
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "the body must be a JSON object")
	}
	ipKey, accKey := "ip:"+clientIP(c), "acct:"+strings.ToLower(strings.TrimSpace(in.Email))
	if w := h.limited(ipKey, accKey); w > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfter(w))
		return fiber.NewError(fiber.StatusTooManyRequests, "too many attempts; wait and try again")
	}
	u, err := h.accounts.Authenticate(c.UserContext(), in.Email, in.Password)
	if errors.Is(err, account.ErrBadCredentials) {
		h.signInLimit.Fail(ipKey)
		h.signInLimit.Fail(accKey)
		return fiber.NewError(fiber.StatusUnauthorized, "wrong email or password")
	}
	if err != nil {
		return err
	}
	h.signInLimit.Succeed(accKey)
	if u.TOTPEnabled {
		// Second-factor failures have their own count, which the password
		// step above does not reset.
		if w := h.secondFactorWait(c, u); w > 0 {
			c.Set(fiber.HeaderRetryAfter, retryAfter(w))
			return fiber.NewError(fiber.StatusTooManyRequests, "too many attempts; wait and try again")
		}
		if err := h.accounts.VerifySecondFactor(c.UserContext(), u, in.Code); err != nil {
			h.secondFactorFailed(c, u)
			return fiber.NewError(fiber.StatusUnauthorized, "a valid two-factor code (\"code\") is required")
		}
		h.secondFactorPassed(c, u)
	}
	token, sess, err := h.accounts.StartSession(c.UserContext(), u, false, c.Get(fiber.HeaderUserAgent), clientIP(c))
	if err != nil {
		return err
	}
	return c.JSON(apiToken{Token: token, ExpiresAt: sess.ExpiresAt, User: userJSON(u)})
}

func (h *accountHandlers) apiLogout(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	if v.User == nil {
		return fiber.NewError(fiber.StatusUnauthorized, "no session")
	}
	if _, err := h.accounts.EndSession(c.UserContext(), v.User.ID, v.Session.ID); err != nil {
		return err
	}
	if !v.Bearer {
		h.clearSessionCookie(c)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (h *accountHandlers) apiSession(c *fiber.Ctx) error {
	v := h.viewerOf(c)
	out := fiber.Map{"user": userJSON(v.User), "created_at": v.Session.CreatedAt, "expires_at": v.Session.ExpiresAt}
	if !v.Bearer {
		out["csrf_token"] = v.Session.CSRF
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}
