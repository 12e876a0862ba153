// Package auth hashes passwords and issues and verifies access and refresh
// tokens. It holds no state beyond its configuration and knows nothing of HTTP
// or storage.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Shape of the PHC strings this package writes.
const (
	saltLen = 16
	keyLen  = 32
)

// Bounds on parameters read back from a stored hash. The parameters decide how
// much memory and CPU a verification costs, so a tampered row could otherwise
// make every signin for that account allocate gigabytes.
const (
	maxMemory      = 1 << 20 // KiB, 1 GiB
	maxIterations  = 20
	maxParallelism = 16
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 64
)

// errMalformedHash is wrapped by every error Verify returns: the stored
// string is not a hash this package can check.
var errMalformedHash = errors.New("auth: malformed password hash")

// Hasher hashes passwords with argon2id.
type Hasher struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
}

// DefaultHasher returns the OWASP minimum recommendation for argon2id:
// 19 MiB of memory, 2 iterations, 1 lane.
func DefaultHasher() Hasher {
	return Hasher{Memory: 19456, Iterations: 2, Parallelism: 1}
}

// Hash returns password hashed with a fresh 16-byte random salt, in PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, both in unpadded
// standard base64. It fails only when h's parameters are out of bounds.
func (h Hasher) Hash(password string) (string, error) {
	if err := h.check(); err != nil {
		return "", fmt.Errorf("auth: hasher: %w", err)
	}
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails: crypto/rand crashes the program rather than return an error
	key := idKey([]byte(password), salt, h.Iterations, h.Memory, h.Parallelism, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.Memory, h.Iterations, h.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, hashing it with the
// parameters stored in encoded so that hashes made before a parameter change
// still verify. needsRehash is true when the password matches but encoded was
// made with parameters other than h's: the caller should store a fresh Hash.
// err is set only when encoded is malformed or its parameters are out of
// bounds, never for a wrong password.
func (h Hasher) Verify(encoded, password string) (ok, needsRehash bool, err error) {
	stored, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	got := idKey([]byte(password), salt, stored.Iterations, stored.Memory, stored.Parallelism, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, stored != h || len(key) != keyLen, nil
}

// dummyHashes holds, per Hasher, the hash VerifyDummy checks against. Hasher
// is a plain value, so the hash cannot live in it; keying by the parameters
// makes one per configuration.
// hashSlots bounds how many argon2id computations run at once. Each takes
// Memory KiB and a core for tens of milliseconds; a flood of signins then
// queues here instead of exhausting memory.
var hashSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// idKey is argon2.IDKey within a hash slot.
func idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}

var dummyHashes sync.Map // Hasher → *dummyHash

type dummyHash struct {
	once    sync.Once
	encoded string
}

// VerifyDummy spends as long as Verify does against a hash made with h's
// parameters, and discards the result. Signin calls it when no account has
// the given email, so that the response time does not reveal which emails are
// registered. The hash is made on the first call for each set of parameters.
func (h Hasher) VerifyDummy(password string) {
	v, _ := dummyHashes.LoadOrStore(h, new(dummyHash))
	d := v.(*dummyHash)
	d.once.Do(func() {
		// Hash fails only for parameters out of bounds, with which no account
		// can be created either; Verify then rejects the empty string at once.
		d.encoded, _ = h.Hash("dummy password, never a real one")
	})
	_, _, _ = h.Verify(d.encoded, password)
}

// check reports whether h's parameters are within the bounds Verify accepts,
// so that every hash this package writes can be read back.
func (h Hasher) check() error {
	switch {
	case h.Iterations < 1 || h.Iterations > maxIterations:
		return fmt.Errorf("iterations %d outside 1..%d", h.Iterations, maxIterations)
	case h.Parallelism < 1 || h.Parallelism > maxParallelism:
		return fmt.Errorf("parallelism %d outside 1..%d", h.Parallelism, maxParallelism)
	case h.Memory < 8*uint32(h.Parallelism) || h.Memory > maxMemory:
		// argon2 needs at least 8 KiB per lane (RFC 9106, section 3.1).
		return fmt.Errorf("memory %d KiB outside %d..%d", h.Memory, 8*uint32(h.Parallelism), maxMemory)
	}
	return nil
}

// decodeHash parses a PHC argon2id string strictly: exactly the layout Hash
// writes, with parameters in bounds.
func decodeHash(encoded string) (params Hasher, salt, key []byte, err error) {
	malformed := func(reason string) (Hasher, []byte, []byte, error) {
		return Hasher{}, nil, nil, fmt.Errorf("%w: %s", errMalformedHash, reason)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return malformed("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return malformed("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return malformed("unsupported version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return malformed("want parameters m, t and p")
	}
	m, errM := paramValue(kv[0], "m=", 32)
	t, errT := paramValue(kv[1], "t=", 32)
	p, errP := paramValue(kv[2], "p=", 8)
	if errM != nil || errT != nil || errP != nil {
		return malformed("want parameters m, t and p as decimal numbers")
	}
	params = Hasher{Memory: uint32(m), Iterations: uint32(t), Parallelism: uint8(p)}
	if err := params.check(); err != nil {
		return malformed(err.Error())
	}
	// Length checks come before decoding so that a huge field costs nothing.
	if n := base64.RawStdEncoding.DecodedLen(len(parts[4])); n < minSaltLen || n > maxSaltLen {
		return malformed("salt length out of bounds")
	}
	if n := base64.RawStdEncoding.DecodedLen(len(parts[5])); n < minKeyLen || n > maxKeyLen {
		return malformed("key length out of bounds")
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return malformed("salt is not unpadded base64")
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil {
		return malformed("key is not unpadded base64")
	}
	return params, salt, key, nil
}

// paramValue parses one "name=decimal" parameter. ParseUint rejects signs,
// spaces and values that overflow bits.
func paramValue(field, prefix string, bits int) (uint64, error) {
	digits, ok := strings.CutPrefix(field, prefix)
	if !ok {
		return 0, errors.New("wrong parameter name")
	}
	return strconv.ParseUint(digits, 10, bits)
}
