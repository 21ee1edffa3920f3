package cert

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/internal/database"
	sealing "github.com/tyokyky/tyokyky/internal/seal"
)

// The signing algorithms: EdDSA (Ed25519) by default, RS256 on request.
const (
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
)

const keysCollection = "cert_keys"

// keyDoc is a signing key as stored: the public half always, the private
// half sealed with the configured secret, or (without a secret) in a 0600
// file of the key directory.
type keyDoc struct {
	ID      string    `bson:"_id"` // the kid: the RFC 7638 thumbprint of the public key
	Alg     string    `bson:"alg"`
	Public  []byte    `bson:"public"`           // PKIX DER
	Sealed  []byte    `bson:"sealed,omitempty"` // AES-256-GCM(PKCS #8 DER), nonce first
	Created time.Time `bson:"created"`
}

// KeyOptions say how keys are made and kept.
type KeyOptions struct {
	// Alg of new keys: AlgEdDSA (default) or AlgRS256.
	Alg string
	// Secret, 32 bytes, seals private keys stored in the database. Without
	// it private keys are PEM files (mode 0600) in Dir.
	Secret []byte
	// Dir holds the private key files when there is no Secret.
	Dir string
	// Collection keeps the key set (default cert_keys): another signer
	// (the LTI tool's keys) keeps its own set the same way.
	Collection string
	// RSABits is the size of new RS256 keys (default 3072; at least 2048).
	RSABits int
}

// Keys is the issuer's key set: the newest key whose private half this
// process can use signs; every key stays published, so certificates signed
// before a rotation stay verifiable.
type Keys struct {
	db   *database.DB
	opts KeyOptions

	mu      sync.RWMutex
	public  map[string]*PublicKey // by kid
	signer  *signingKey           // the newest usable key
	jwks    []byte
	version string // the kids in order: changes when the set changes
}

// PublicKey is one published key.
type PublicKey struct {
	ID      string
	Alg     string
	Key     crypto.PublicKey
	Created time.Time
}

type signingKey struct {
	id  string
	alg string
	key crypto.Signer
}

// NewKeys uses db and opts; call Load before signing.
func NewKeys(db *database.DB, opts KeyOptions) (*Keys, error) {
	if opts.Alg == "" {
		opts.Alg = AlgEdDSA
	}
	if opts.Alg != AlgEdDSA && opts.Alg != AlgRS256 {
		return nil, fmt.Errorf("cert: the signing algorithm must be %s or %s, not %q", AlgEdDSA, AlgRS256, opts.Alg)
	}
	if opts.Secret != nil && len(opts.Secret) != 32 {
		return nil, fmt.Errorf("cert: the key secret must be 32 bytes (base64 of 32 random bytes), not %d", len(opts.Secret))
	}
	if opts.Secret == nil && opts.Dir == "" {
		return nil, errors.New("cert: keys need a secret or a directory for the private keys")
	}
	if opts.Collection == "" {
		opts.Collection = keysCollection
	}
	if opts.RSABits == 0 {
		opts.RSABits = 3072
	}
	if opts.RSABits < 2048 {
		return nil, fmt.Errorf("cert: RSA keys of at least 2048 bits, not %d", opts.RSABits)
	}
	return &Keys{db: db, opts: opts, public: map[string]*PublicKey{}}, nil
}

// Load reads the key set, creating the first key when there is none.
func (k *Keys) Load(ctx context.Context) error {
	docs, err := k.docs(ctx)
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		_, err := k.Rotate(ctx)
		return err
	}
	err = k.use(docs)
	if errors.Is(err, errNoUsableKey) {
		// Keys of other instances in files this one cannot read: make one
		// of its own. Every key is published, so every instance verifies
		// what any of them signed.
		_, err = k.Rotate(ctx)
	}
	return err
}

// errNoUsableKey: keys exist, but this process holds none of their private
// halves (file keys of another instance).
var errNoUsableKey = errors.New("cert: no signing key is usable here")

// Refresh reads the key set again when another process rotated it: the
// keys are opened again only when the set changed.
func (k *Keys) Refresh(ctx context.Context) error {
	docs, err := k.docs(ctx)
	if err != nil {
		return err
	}
	k.mu.RLock()
	same := k.version == kidList(docs)
	k.mu.RUnlock()
	if same {
		return nil
	}
	return k.use(docs)
}

// kidList names a key set: the kids in order.
func kidList(docs []keyDoc) string {
	var b strings.Builder
	for _, d := range docs {
		b.WriteString(d.ID + ",")
	}
	return b.String()
}

func (k *Keys) docs(ctx context.Context) ([]keyDoc, error) {
	cur, err := k.db.Collection(k.opts.Collection).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("cert: keys: %w", err)
	}
	var docs []keyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("cert: keys: %w", err)
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].Created.Before(docs[j].Created) })
	return docs, nil
}

// use installs the key set: every key published, the newest usable one
// signing.
func (k *Keys) use(docs []keyDoc) error {
	public := map[string]*PublicKey{}
	var set []map[string]string
	var signer *signingKey
	var lastErr error
	for _, d := range docs {
		pub, err := x509.ParsePKIXPublicKey(d.Public)
		if err != nil {
			return fmt.Errorf("cert: key %s: %w", d.ID, err)
		}
		public[d.ID] = &PublicKey{ID: d.ID, Alg: d.Alg, Key: pub, Created: d.Created}
		jwk, err := publicJWK(pub, d.ID, d.Alg)
		if err != nil {
			return err
		}
		set = append(set, jwk)
		priv, err := k.private(d)
		if err != nil {
			lastErr = err
			continue
		}
		signer = &signingKey{id: d.ID, alg: d.Alg, key: priv}
	}
	if signer == nil && len(docs) > 0 {
		if k.opts.Secret != nil {
			// Sealed keys that the secret cannot open: a configuration
			// error, not a reason to make a new key.
			return fmt.Errorf("cert: no signing key opens with this key secret: %w", lastErr)
		}
		return fmt.Errorf("%w: %w", errNoUsableKey, lastErr)
	}
	if set == nil {
		set = []map[string]string{}
	}
	jwks, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.public, k.signer, k.jwks, k.version = public, signer, jwks, kidList(docs)
	k.mu.Unlock()
	return nil
}

// Rotate makes a new key with the configured algorithm; it signs from now
// on, and the older keys stay published.
func (k *Keys) Rotate(ctx context.Context) (*PublicKey, error) {
	var priv crypto.Signer
	switch k.opts.Alg {
	case AlgRS256:
		key, err := rsa.GenerateKey(rand.Reader, k.opts.RSABits)
		if err != nil {
			return nil, err
		}
		priv = key
	default:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		priv = key
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	kid, err := thumbprint(priv.Public())
	if err != nil {
		return nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	doc := keyDoc{ID: kid, Alg: k.opts.Alg, Public: pubDER, Created: time.Now().UTC().Truncate(time.Millisecond)}
	if k.opts.Secret != nil {
		doc.Sealed, err = seal(k.opts.Secret, privDER, kid)
		if err != nil {
			return nil, err
		}
	} else if err := writePrivate(k.opts.Dir, kid, privDER); err != nil {
		return nil, err
	}
	_, err = k.db.Collection(k.opts.Collection).InsertOne(ctx, doc)
	if err != nil {
		return nil, fmt.Errorf("cert: store the new key: %w", err)
	}
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	return &PublicKey{ID: kid, Alg: doc.Alg, Key: priv.Public(), Created: doc.Created}, nil
}

// private opens a key's private half.
func (k *Keys) private(d keyDoc) (crypto.Signer, error) {
	var der []byte
	switch {
	case d.Sealed != nil:
		if k.opts.Secret == nil {
			return nil, fmt.Errorf("cert: key %s is sealed, and no key secret is configured", d.ID)
		}
		var err error
		der, err = open(k.opts.Secret, d.Sealed, d.ID)
		if err != nil {
			return nil, fmt.Errorf("cert: key %s: %w", d.ID, err)
		}
	default:
		b, err := os.ReadFile(filepath.Join(k.opts.Dir, d.ID+".pem"))
		if err != nil {
			return nil, fmt.Errorf("cert: key %s: %w", d.ID, err)
		}
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("cert: key %s: the file is not a PEM private key", d.ID)
		}
		der = block.Bytes
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("cert: key %s: %w", d.ID, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("cert: key %s cannot sign", d.ID)
	}
	if kid, err := thumbprint(s.Public()); err != nil || kid != d.ID {
		return nil, fmt.Errorf("cert: key %s: the private key does not match the published one", d.ID)
	}
	return s, nil
}

// Public is the published key kid, or nil.
func (k *Keys) Public(kid string) *PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.public[kid]
}

// List is the key set, oldest first.
func (k *Keys) List() []*PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]*PublicKey, 0, len(k.public))
	for _, p := range k.public {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// JWKS is the published key set as JSON (RFC 7517), public keys only.
func (k *Keys) JWKS() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks
}

func (k *Keys) current() (*signingKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.signer == nil {
		return nil, errors.New("cert: no signing key (Load was not called)")
	}
	return k.signer, nil
}

// publicJWK is a public key as a JWK with its kid, alg and use.
func publicJWK(pub crypto.PublicKey, kid, alg string) (map[string]string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(p), "kid": kid, "alg": alg, "use": "sig"}, nil
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes()), "kid": kid, "alg": alg, "use": "sig"}, nil
	}
	return nil, fmt.Errorf("cert: unsupported public key %T", pub)
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of pub:
// the hash of the required members in lexicographic order.
func thumbprint(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var canon string
	switch p := pub.(type) {
	case ed25519.PublicKey:
		canon = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, b64(p))
	case *rsa.PublicKey:
		canon = fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, b64(big.NewInt(int64(p.E)).Bytes()), b64(p.N.Bytes()))
	default:
		return "", fmt.Errorf("cert: unsupported public key %T", pub)
	}
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:]), nil
}

// seal encrypts a private key with the key secret, bound to its kid.
func seal(secret, plain []byte, kid string) ([]byte, error) { return sealing.Seal(secret, plain, kid) }

func open(secret, sealed []byte, kid string) ([]byte, error) {
	plain, err := sealing.Open(secret, sealed, kid)
	if errors.Is(err, sealing.ErrOpen) {
		return nil, errors.New("the key secret does not open it (a different TYOKYKY_CERT_KEY_SECRET?)")
	}
	return plain, err
}

// writePrivate stores a private key as a PEM file readable by its owner
// only, written whole or not at all.
func writePrivate(dir, kid string, der []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cert: key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return fmt.Errorf("cert: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("cert: key file: %w", err)
	}
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return fmt.Errorf("cert: key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cert: key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cert: key file: %w", err)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, kid+".pem"))
}

// KeyList is a key set read from a JWKS document (an offline verifier's
// saved copy of the issuer's keys).
type KeyList map[string]*PublicKey

// Public is the key kid, or nil.
func (l KeyList) Public(kid string) *PublicKey { return l[kid] }

// ParseJWKS reads a JWKS document: Ed25519 (OKP) and RSA public keys with
// their kid and alg. Private members and other key types are refused.
func ParseJWKS(b []byte) (KeyList, error) {
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("cert: the key set is not JSON: %w", err)
	}
	if len(doc.Keys) == 0 {
		return nil, errors.New("cert: the key set has no keys")
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	b64 := base64.RawURLEncoding.DecodeString
	out := KeyList{}
	for i, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				return nil, fmt.Errorf("cert: key %d of the set has a private member (%s)", i+1, private)
			}
		}
		kid, alg := str(k, "kid"), str(k, "alg")
		if kid == "" {
			return nil, fmt.Errorf("cert: key %d of the set has no kid", i+1)
		}
		var pub crypto.PublicKey
		switch {
		case str(k, "kty") == "OKP" && str(k, "crv") == "Ed25519" && (alg == AlgEdDSA || alg == ""):
			x, err := b64(str(k, "x"))
			if err != nil || len(x) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("cert: key %s: bad x", kid)
			}
			pub, alg = ed25519.PublicKey(x), AlgEdDSA
		case str(k, "kty") == "RSA" && (alg == AlgRS256 || alg == ""):
			n, err1 := b64(str(k, "n"))
			e, err2 := b64(str(k, "e"))
			if err1 != nil || err2 != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
				return nil, fmt.Errorf("cert: key %s: bad n or e (RSA keys of at least 2048 bits)", kid)
			}
			pub, alg = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, AlgRS256
		default:
			return nil, fmt.Errorf("cert: key %s is neither an Ed25519 (EdDSA) nor an RSA (RS256) key", kid)
		}
		out[kid] = &PublicKey{ID: kid, Alg: alg, Key: pub}
	}
	return out, nil
}
