package cert

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tyokyky/tyokyky/course"
)

// The contexts of an Open Badges 3.0 credential (VC Data Model 2.0).
var credentialContext = []string{"https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"}

// Issuer describes who issues the certificates.
type Issuer struct {
	// ID is the issuer profile's URL (the JWT's iss).
	ID      string
	Name    string
	Address string // one line: "street, postal code locality[, country]"
	URL     string // the site
}

// Profile is the issuer as an Open Badges Profile.
func (i Issuer) Profile() map[string]any {
	p := map[string]any{"id": i.ID, "type": []string{"Profile"}, "name": i.Name}
	if i.URL != "" {
		p["url"] = i.URL
	}
	if a := address(i.Address); a != nil {
		p["address"] = a
	}
	return p
}

// ProfileDocument is the profile standing alone (the issuer's own
// address): with the JSON-LD contexts of the credentials.
func (i Issuer) ProfileDocument() map[string]any {
	p := i.Profile()
	p["@context"] = credentialContext
	return p
}

// address reads a one-line postal address ("Katu 1, 00100 Helsinki,
// Suomi") into an Open Badges Address; what does not parse stays in the
// street address.
func address(line string) map[string]any {
	line = strings.TrimSpace(line)
	if line == "" {
		return nil
	}
	a := map[string]any{"type": []string{"Address"}}
	parts := strings.Split(line, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	street := parts
	for i := len(parts) - 1; i > 0; i-- {
		fields := strings.Fields(parts[i])
		if len(fields) >= 2 && isDigits(fields[0]) {
			a["postalCode"] = fields[0]
			a["addressLocality"] = strings.Join(fields[1:], " ")
			if i+1 < len(parts) {
				a["addressCountry"] = strings.Join(parts[i+1:], ", ")
			}
			street = parts[:i]
			break
		}
	}
	a["streetAddress"] = strings.Join(street, ", ")
	return a
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Course is what a certificate certifies.
type Course struct {
	ID          string // the achievement's URL
	Title       string
	Description string
	Criteria    string
	Credits     int
	Hours       int
	Language    string
}

// credential is the OpenBadgeCredential of a certificate in the VC-JWT
// form of Open Badges 3.0 (section 8.2): the credential's members at the
// top of the payload, with the registered claims that mirror them.
func credential(c *Certificate, iss Issuer, course Course, statusURL string) jwt.MapClaims {
	achievement := map[string]any{
		"id":               course.ID,
		"type":             []string{"Achievement"},
		"achievementType":  "Course",
		"name":             course.Title,
		"description":      course.Description,
		"criteria":         map[string]any{"narrative": course.Criteria},
		"creditsAvailable": course.Credits,
		"inLanguage":       course.Language,
	}
	subject := map[string]any{
		"id":   c.Subject,
		"type": []string{"AchievementSubject"},
		"identifier": []map[string]any{{
			"type": "IdentityObject", "identityType": "name", "hashed": false, "identityHash": c.Holder,
		}},
		"achievement":   achievement,
		"creditsEarned": c.Credits,
	}
	validFrom := c.Issued.UTC().Format(time.RFC3339)
	return jwt.MapClaims{
		"@context":          credentialContext,
		"id":                c.URL,
		"type":              []string{"VerifiableCredential", "OpenBadgeCredential"},
		"name":              course.Title,
		"issuer":            iss.Profile(),
		"validFrom":         validFrom,
		"credentialSubject": subject,
		"credentialStatus": map[string]any{
			"id":                   statusURL + "#" + strconv.Itoa(c.Index),
			"type":                 "BitstringStatusListEntry",
			"statusPurpose":        "revocation",
			"statusListIndex":      strconv.Itoa(c.Index),
			"statusListCredential": statusURL,
		},
		"iss": iss.ID,
		"nbf": c.Issued.Unix(),
		"jti": c.URL,
		"sub": c.Subject,
	}
}

// Sign signs claims with the current key (for another signer that keeps
// its key set with Keys: the LTI tool's messages); it returns the compact
// JWS and the kid.
func (k *Keys) Sign(claims jwt.MapClaims) (token, kid string, err error) { return k.sign(claims) }

// sign signs claims with the current key: a compact JWS with alg, kid and
// typ JWT in its header.
func (k *Keys) sign(claims jwt.MapClaims) (token, kid string, err error) {
	key, err := k.current()
	if err != nil {
		return "", "", err
	}
	var method jwt.SigningMethod = jwt.SigningMethodEdDSA
	if key.alg == AlgRS256 {
		method = jwt.SigningMethodRS256
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["kid"] = key.id
	t.Header["typ"] = "JWT"
	s, err := t.SignedString(key.key)
	if err != nil {
		return "", "", fmt.Errorf("cert: sign: %w", err)
	}
	return s, key.id, nil
}

// Why a token is refused.
var (
	ErrForeignKey  = errors.New("the token names a key of its own (jwk, jku, x5u or x5c); only the issuer's published keys are used")
	ErrUnknownKey  = errors.New("the token's key (kid) is not one of the issuer's keys")
	ErrTokenType   = errors.New("the token is not an Open Badges credential (typ must be JWT, type must include OpenBadgeCredential)")
	ErrNoNotBefore = errors.New("the token has no nbf (validFrom)")
)

// KeySet finds a verification key by kid.
type KeySet interface {
	Public(kid string) *PublicKey
}

// Parse verifies a token's signature and claims against keys and the
// issuer id: the algorithm is pinned to the key's own (EdDSA or RS256,
// never none or HMAC), kid is looked up only in keys, keys named by the
// token itself are refused, and iss, nbf and the credential type are
// checked. It returns the claims.
func Parse(token string, keys KeySet, issuer string, now time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{AlgEdDSA, AlgRS256}),
		jwt.WithIssuer(issuer),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(time.Minute),
	)
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		for _, h := range []string{"jwk", "jku", "x5u", "x5c"} {
			if _, ok := t.Header[h]; ok {
				return nil, ErrForeignKey
			}
		}
		if typ, _ := t.Header["typ"].(string); typ != "JWT" {
			return nil, ErrTokenType
		}
		kid, _ := t.Header["kid"].(string)
		k := keys.Public(kid)
		if kid == "" || k == nil {
			return nil, ErrUnknownKey
		}
		if t.Method.Alg() != k.Alg {
			return nil, fmt.Errorf("the token's algorithm %s is not its key's (%s)", t.Method.Alg(), k.Alg)
		}
		return k.Key, nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := claims["nbf"]; !ok {
		return nil, ErrNoNotBefore
	}
	types, _ := claims["type"].([]any)
	found := false
	for _, t := range types {
		if t == "OpenBadgeCredential" || t == "AchievementCredential" {
			found = true
		}
	}
	if !found {
		return nil, ErrTokenType
	}
	return claims, nil
}

// Reason is a refusal in a sentence, for people.
func Reason(err error) string {
	for _, e := range []error{ErrUnknownKey, ErrForeignKey, ErrTokenType, ErrNoNotBefore} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is not a well-formed JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the signature does not match the content, or the algorithm is not one the issuer uses (altered or forged)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token was issued by someone else (iss)"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired (exp)"
	}
	return "the token cannot be verified: " + err.Error()
}

// jsonClaims turns claims into plain JSON values (for answers).
func jsonClaims(c jwt.MapClaims) map[string]any {
	b, err := json.Marshal(c)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// CourseOf describes a published course for its certificates; base is the
// site's public URL (the course's page is its front page).
func CourseOf(pub *course.Published, base string) Course {
	m := pub.Course.Meta
	pass := course.DefaultExamRules.PassPercent
	if pub.Course.Exam != nil {
		pass = pub.Course.Exam.Rules.PassPercent
	}
	return Course{ID: strings.TrimRight(base, "/") + "/", Title: m.Title, Description: m.Description,
		Criteria: fmt.Sprintf("Kurssin moduulit opiskeltu ja loppukoe hyväksytty (vähintään %d %% enimmäispisteistä).", pass),
		Credits:  int(m.Credits + 0.5), Hours: int(m.WorkloadHours + 0.5), Language: "fi"}
}
