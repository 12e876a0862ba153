package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// cheap keeps the tests fast; only TestDefaultHasherRoundTrip pays for the
// production parameters.
var cheap = Hasher{Memory: 1024, Iterations: 1, Parallelism: 1}

func TestDefaultHasherRoundTrip(t *testing.T) {
	h := DefaultHasher()
	if h != (Hasher{Memory: 19456, Iterations: 2, Parallelism: 1}) {
		t.Fatalf("DefaultHasher() = %+v, want OWASP minimum m=19456 t=2 p=1", h)
	}
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("encoded = %q, want the PHC prefix with default parameters", encoded)
	}
	ok, rehash, err := h.Verify(encoded, "correct horse battery staple")
	if !ok || rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestHashLayout(t *testing.T) {
	encoded, err := cheap.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" || parts[3] != "m=1024,t=1,p=1" {
		t.Fatalf("encoded = %q, want $argon2id$v=19$m=1024,t=1,p=1$salt$key", encoded)
	}
	for i, want := range map[int]int{4: saltLen, 5: keyLen} {
		b, err := base64.RawStdEncoding.DecodeString(parts[i])
		if err != nil || len(b) != want {
			t.Errorf("field %d = %q: %d bytes, err %v; want %d bytes of unpadded base64", i, parts[i], len(b), err, want)
		}
	}
}

func TestVerify(t *testing.T) {
	encoded, err := cheap.Hash("s3cret password")
	if err != nil {
		t.Fatal(err)
	}
	stronger := Hasher{Memory: 2048, Iterations: 1, Parallelism: 1}
	tests := []struct {
		name       string
		hasher     Hasher
		password   string
		ok, rehash bool
	}{
		{"matchSameParams", cheap, "s3cret password", true, false},
		{"wrongPasswordFalse", cheap, "s3cret passworD", false, false},
		{"emptyPasswordFalse", cheap, "", false, false},
		{"matchNeedsRehashWhenMemoryChanged", stronger, "s3cret password", true, true},
		{"matchNeedsRehashWhenIterationsChanged", Hasher{Memory: 1024, Iterations: 2, Parallelism: 1}, "s3cret password", true, true},
		{"matchNeedsRehashWhenParallelismChanged", Hasher{Memory: 1024, Iterations: 1, Parallelism: 2}, "s3cret password", true, true},
		{"wrongPasswordNoRehash", stronger, "nope", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := tt.hasher.Verify(encoded, tt.password)
			if err != nil {
				t.Fatalf("Verify error %v", err)
			}
			if ok != tt.ok || rehash != tt.rehash {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, rehash, tt.ok, tt.rehash)
			}
		})
	}
}

func TestHashTwiceDiffersBySalt(t *testing.T) {
	a, err := cheap.Hash("same")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cheap.Hash("same")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
	for _, e := range []string{a, b} {
		if ok, _, err := cheap.Verify(e, "same"); !ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want true, nil", e, ok, err)
		}
	}
}

func TestHashRejectsHasherOutOfBounds(t *testing.T) {
	tests := []struct {
		name string
		h    Hasher
	}{
		{"zeroValue", Hasher{}},
		{"zeroIterations", Hasher{Memory: 1024, Iterations: 0, Parallelism: 1}},
		{"zeroParallelism", Hasher{Memory: 1024, Iterations: 1, Parallelism: 0}},
		{"memoryBelow8PerLane", Hasher{Memory: 15, Iterations: 1, Parallelism: 2}},
		{"memoryOver1GiB", Hasher{Memory: 1<<20 + 1, Iterations: 1, Parallelism: 1}},
		{"iterationsOver20", Hasher{Memory: 1024, Iterations: 21, Parallelism: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if encoded, err := tt.h.Hash("pw"); err == nil {
				t.Errorf("Hash = %q, nil; want an error", encoded)
			}
		})
	}
}

func TestVerifyMalformedErrors(t *testing.T) {
	good, err := cheap.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }

	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"notPHC", "plaintext"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"fourSegments", "$argon2id$v=19$m=1024,t=1,p=1$" + salt},
		{"sixSegments", good + "$extra"},
		{"leadingText", "x" + good},
		{"argon2i", strings.Replace(good, "$argon2id$", "$argon2i$", 1)},
		{"versionOld", strings.Replace(good, "$v=19$", "$v=16$", 1)},
		{"versionJunk", strings.Replace(good, "$v=19$", "$v=19x$", 1)},
		{"versionMissing", strings.Replace(good, "$v=19$", "$$", 1)},
		{"memoryAbsurd", with("m=4294967295,t=1,p=1")},
		{"memoryOver1GiB", with("m=1048577,t=1,p=1")},
		{"memoryOverflowsUint32", with("m=4294967296,t=1,p=1")},
		{"memoryNegative", with("m=-1,t=1,p=1")},
		{"memoryTooSmallForLanes", with("m=8,t=1,p=2")},
		{"iterationsZero", with("m=1024,t=0,p=1")},
		{"iterationsAbsurd", with("m=1024,t=1000000,p=1")},
		{"parallelismZero", with("m=1024,t=1,p=0")},
		{"parallelismOverflowsUint8", with("m=1024,t=1,p=256")},
		{"parallelismTooHigh", with("m=1024,t=1,p=255")},
		{"paramsReordered", with("t=1,m=1024,p=1")},
		{"paramsExtra", with("m=1024,t=1,p=1,k=2")},
		{"paramsMissing", with("m=1024,t=1")},
		{"paramsSpaces", with("m= 1024,t=1,p=1")},
		{"paramsPlusSign", with("m=+1024,t=1,p=1")},
		{"saltBadBase64", "$argon2id$v=19$m=1024,t=1,p=1$!!!!!!!!!!!!!!!!!!!!!!$" + key},
		{"keyBadBase64", "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$" + strings.Repeat("*", len(key))},
		{"keyPadded", good + "="},
		{"saltEmpty", "$argon2id$v=19$m=1024,t=1,p=1$$" + key},
		{"keyEmpty", "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$"},
		{"saltTooShort", "$argon2id$v=19$m=1024,t=1,p=1$AAAA$" + key},
		{"keyTooLong", "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$" + strings.Repeat("A", 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := cheap.Verify(tt.encoded, "pw")
			if !errors.Is(err, errMalformedHash) {
				t.Errorf("Verify error = %v, want errMalformedHash", err)
			}
			if ok || rehash {
				t.Errorf("Verify = %v, %v; want false, false", ok, rehash)
			}
		})
	}
}

func TestVerifyDummyWithoutPanic(t *testing.T) {
	// Its timing is not asserted (tests hold no timing claims); this covers
	// the path and, under -race, concurrent first calls through sync.Once.
	done := make(chan struct{})
	for range 4 {
		go func() {
			cheap.VerifyDummy("whatever")
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	Hasher{}.VerifyDummy("invalid hasher returns quietly")
}
