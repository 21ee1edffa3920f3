// Package seal encrypts the small secrets kept in the store (the
// certificates' and the LTI tool's signing keys, sign-in providers'
// client secrets, learning record stores' passwords) with the site's key
// secret: AES-GCM, the nonce before the ciphertext, bound to a context
// string (what the value is and whose) as additional data, so that a
// sealed value copied to another record does not open there.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// ErrOpen is a sealed value the key does not open (another key secret,
// another context, or altered bytes).
var ErrOpen = errors.New("seal: the key does not open the value")

// Seal encrypts plain with key (16, 24 or 32 bytes) for context.
func Seal(key, plain []byte, context string) ([]byte, error) {
	gcm, err := aead(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, []byte(context)), nil
}

// Open decrypts what Seal made with the same key and context.
func Open(key, sealed []byte, context string) ([]byte, error) {
	gcm, err := aead(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, ErrOpen
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

func aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
