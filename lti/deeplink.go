package lti

import (
	"context"
	"crypto/subtle"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tyokyky/tyokyky/internal/fault"
)

// Deep Linking 2.0: the claims and message types.
const (
	ClaimDeepLinkingSettings = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
	ClaimContentItems        = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
	ClaimDeepLinkingData     = "https://purl.imsglobal.org/spec/lti-dl/claim/data"

	MessageDeepLinking         = "LtiDeepLinkingRequest"
	MessageDeepLinkingResponse = "LtiDeepLinkingResponse"
)

// DeepLinkTTL is how long a teacher may take to choose.
const DeepLinkTTL = time.Hour

// Deep linking refusals.
var (
	ErrNotInstructor = fault.New(fault.Forbidden, "lti_not_instructor", "", "only a teacher, a content developer or an administrator of the platform may place the course")
	ErrDeepLink      = fault.New(fault.Invalid, "lti_deep_link_invalid", "", "the deep linking request lacks its settings, a return address or ltiResourceLink among the accepted types")
	ErrDeepLinkGone  = fault.New(fault.NotFound, "lti_deep_link_not_found", "", "no such placement, or it was made already or took too long")
	ErrNoChoice      = fault.New(fault.Invalid, "lti_deep_link_no_choice", "items", "choose what to place")
)

// Role URIs (LTI Core 1.3 § A.2) that may place content.
var placingRoles = []string{
	"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
	"http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
	"http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
	"http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
	"http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor",
	"http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
}

// MayPlace tells whether roles include one that may place content: a
// context's instructor (also a sub-role such as a teaching assistant),
// content developer or administrator, or an institution's or system's
// administrator. A learner, a mentor or a guest may not.
func MayPlace(roles []string) bool {
	for _, r := range roles {
		if slices.Contains(placingRoles, r) || strings.HasPrefix(r, "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#") {
			return true
		}
	}
	return false
}

// DeepLinkRequest is a deep linking launch waiting for the teacher's
// choice: who launched, from which platform and deployment, where the
// answer goes and what the platform accepts.
type DeepLinkRequest struct {
	ID           string    `bson:"_id"`
	UserID       string    `bson:"user_id"`
	Registration string    `bson:"registration"`
	Deployment   string    `bson:"deployment"`
	ReturnURL    string    `bson:"return_url"`
	Data         string    `bson:"data,omitempty"`
	Multiple     bool      `bson:"multiple"`
	Title        string    `bson:"title,omitempty"`
	CreatedAt    time.Time `bson:"created_at"`
}

// ContentItem is what the teacher places: an LTI resource link to an
// address of the course with a line item for the platform's gradebook.
type ContentItem struct {
	Title string
	// URL is the resource link's target (an address of this site).
	URL string
	// ResourceID names the graded resource (course, module:slug, exam).
	ResourceID string
	// ScoreMaximum of the line item (0: no line item).
	ScoreMaximum float64
}

// deepLinkRequest reads a deep linking launch's settings claim into a
// request of user.
func (s *Service) deepLinkRequest(ctx context.Context, reg *Registration, deployment, userID string, roles []string, claims jwt.MapClaims) (string, error) {
	if !MayPlace(roles) {
		return "", ErrNotInstructor
	}
	settings, _ := claims[ClaimDeepLinkingSettings].(map[string]any)
	if settings == nil {
		return "", ErrDeepLink
	}
	ret, _ := settings["deep_link_return_url"].(string)
	accept, _ := settings["accept_types"].([]any)
	if !webURL(ret, true) || !slices.Contains(accept, any("ltiResourceLink")) {
		return "", ErrDeepLink
	}
	r := DeepLinkRequest{UserID: userID, Registration: reg.ID, Deployment: deployment, ReturnURL: ret}
	r.Data, _ = settings["data"].(string)
	r.Multiple, _ = settings["accept_multiple"].(bool)
	r.Title, _ = settings["title"].(string)
	return s.WaitForChoice(ctx, r)
}

// WaitForChoice keeps a deep linking request until its user chooses (a
// deep linking launch makes them); it returns the request's id.
func (s *Service) WaitForChoice(ctx context.Context, r DeepLinkRequest) (string, error) {
	r.ID, r.CreatedAt = random(), s.now().UTC().Truncate(time.Millisecond)
	if err := s.saveDeepLink(ctx, r); err != nil {
		return "", err
	}
	return r.ID, nil
}

// DeepLink is the waiting request id of user, or ErrDeepLinkGone (also
// for another user's: the id is nobody else's business).
func (s *Service) DeepLink(ctx context.Context, id, userID string) (*DeepLinkRequest, error) {
	r, err := s.findDeepLink(ctx, id)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(r.UserID), []byte(userID)) != 1 || s.now().Sub(r.CreatedAt) > DeepLinkTTL {
		return nil, ErrDeepLinkGone
	}
	return r, nil
}

// DeepLinkResponse answers user's waiting request with the chosen items,
// once: the LtiDeepLinkingResponse JWT signed with the tool's key (iss
// the client id, aud the platform's issuer, the deployment, the items as
// ltiResourceLink content items with their line items, the request's
// data back) and the address to post it to (as the form field JWT).
func (s *Service) DeepLinkResponse(ctx context.Context, id, userID string, items []ContentItem) (returnURL, token string, err error) {
	r, err := s.DeepLink(ctx, id, userID)
	if err != nil {
		return "", "", err
	}
	if len(items) == 0 || len(items) > 1 && !r.Multiple {
		return "", "", ErrNoChoice
	}
	reg, err := s.Registration(ctx, r.Registration)
	if err != nil || !reg.Active {
		return "", "", ErrDeepLinkGone
	}
	for _, it := range items {
		if _, err := s.targetPath(it.URL); err != nil {
			return "", "", err
		}
	}
	if err := s.claimOnce(ctx, "deep-link:"+r.ID); err != nil {
		return "", "", ErrDeepLinkGone
	}
	var out []any
	for _, it := range items {
		ci := map[string]any{"type": "ltiResourceLink", "title": it.Title, "url": it.URL}
		if it.ScoreMaximum > 0 {
			ci["lineItem"] = map[string]any{"scoreMaximum": it.ScoreMaximum, "label": it.Title, "resourceId": it.ResourceID, "tag": "tyokyky"}
		}
		out = append(out, ci)
	}
	now := s.now()
	claims := jwt.MapClaims{
		"iss": reg.ClientID, "aud": reg.Issuer, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": random(),
		ClaimDeploymentID: r.Deployment,
		ClaimMessageType:  MessageDeepLinkingResponse,
		ClaimVersion:      Version,
		ClaimContentItems: out,
	}
	if r.Data != "" {
		claims[ClaimDeepLinkingData] = r.Data
	}
	token, _, err = s.o.Keys.Sign(claims)
	if err != nil {
		return "", "", err
	}
	return r.ReturnURL, token, nil
}
