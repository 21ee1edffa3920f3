package lti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/golang-jwt/jwt/v5"
)

// Names and Role Provisioning Services 2.0: the claim, the scope and the
// media type.
const (
	ClaimNRPS      = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
	ScopeNRPS      = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
	membershipType = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
)

// rosterURLOf is the context's membership service of a launch, "" when
// the launch carries none.
func rosterURLOf(claims jwt.MapClaims) string {
	nr, _ := claims[ClaimNRPS].(map[string]any)
	u, _ := nr["context_memberships_url"].(string)
	if !webURL(u, true) {
		return ""
	}
	return u
}

var nextLink = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`)

// member is a person of a context's roster.
type member struct {
	UserID     string   `json:"user_id"`
	Status     string   `json:"status"`
	Name       string   `json:"name"`
	GivenName  string   `json:"given_name"`
	FamilyName string   `json:"family_name"`
	Email      string   `json:"email"`
	Roles      []string `json:"roles"`
}

// SyncRosters reads the course rosters of the platforms that allow it
// (Registration.Roster) and makes the accounts of the active members
// who never launched, as a launch would (by issuer and user_id, in the
// registration's organisation), so that the organisation's reports count
// them. It returns how many accounts it made.
func (s *Service) SyncRosters(ctx context.Context) (int, error) {
	rosters, err := s.rosters(ctx)
	if err != nil {
		return 0, err
	}
	made := 0
	var errs []error
	for _, r := range rosters {
		if ctx.Err() != nil {
			break
		}
		reg, err := s.Registration(ctx, r.Registration)
		if err != nil || !reg.Active || !reg.Roster {
			continue
		}
		n, err := s.syncRoster(ctx, reg, r.URL)
		made += n
		if err != nil {
			// One platform's failure does not keep the others' rosters
			// from being read.
			s.o.Logger.Warn("lti: reading a course roster", "registration", reg.ID, "url", r.URL, "err", err)
			errs = append(errs, fmt.Errorf("roster %s: %w", r.URL, err))
		}
	}
	return made, errors.Join(errs...)
}

func (s *Service) syncRoster(ctx context.Context, reg *Registration, next string) (int, error) {
	tok, err := s.accessToken(ctx, reg, []string{ScopeNRPS})
	if err != nil {
		return 0, err
	}
	made := 0
	for page := 0; next != "" && page < 100; page++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return made, err
		}
		req.Header.Set("Accept", membershipType)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.o.HTTPClient.Do(req)
		if err != nil {
			return made, err
		}
		var body struct {
			Members []member `json:"members"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return made, fmt.Errorf("memberships: %d", resp.StatusCode)
		}
		if err != nil {
			return made, err
		}
		for _, m := range body.Members {
			if m.UserID == "" || len(m.UserID) > 255 || m.Status != "" && m.Status != "Active" {
				continue
			}
			claims := jwt.MapClaims{"name": m.Name, "given_name": m.GivenName, "family_name": m.FamilyName, "email": m.Email}
			_, created, err := s.account(ctx, reg, m.UserID, claims)
			if errors.Is(err, ErrDisabled) {
				continue
			}
			if err != nil {
				return made, err
			}
			if created {
				made++
			}
		}
		next = ""
		if m := nextLink.FindStringSubmatch(resp.Header.Get("Link")); m != nil && webURL(m[1], true) {
			next = m[1]
		}
	}
	return made, nil
}
