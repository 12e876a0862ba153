package paystack

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// chargeSuccessBody is compact JSON as a webhook carries it.
const chargeSuccessBody = `{"event":"charge.success","data":{"id":3104021987,"domain":"test","status":"success","reference":"zuz8ggd1ro","amount":25000,"gateway_response":"Approved","paid_at":"2023-09-12T13:29:09.000Z","created_at":"2023-09-12T13:27:50.000Z","channel":"bank_transfer","currency":"NGN","metadata":"","fees":375,"customer":{"id":138496675,"email":"another@one.com","customer_code":"CUS_1eq06yu8efl8u63"}}}`

// referenceSignature computes the signature independently of Sign.
func referenceSignature(key, body string) string {
	m := hmac.New(sha512.New, []byte(key))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	sig := referenceSignature(testKey, chargeSuccessBody)
	if Sign(testKey, []byte(chargeSuccessBody)) != sig {
		t.Fatal("Sign disagrees with HMAC-SHA512 hex")
	}
	for _, tc := range []struct {
		name, key, body, sig string
		want                 bool
	}{
		{"valid", testKey, chargeSuccessBody, sig, true},
		{"validUppercaseHex", testKey, chargeSuccessBody, strings.ToUpper(sig), true},
		{"tamperedAmount", testKey, strings.Replace(chargeSuccessBody, "25000", "2500", 1), sig, false},
		// Re-encoded JSON (here with a space) is different bytes.
		{"reencodedBody", testKey, strings.Replace(chargeSuccessBody, `"event":`, `"event": `, 1), sig, false},
		{"otherModeKey", "sk_live_r3m3mb3r2pu70nasm1l3", chargeSuccessBody, sig, false},
		{"emptySignature", testKey, chargeSuccessBody, "", false},
		{"notHex", testKey, chargeSuccessBody, "zz" + sig[2:], false},
		{"truncated", testKey, chargeSuccessBody, sig[:64], false},
		{"sha256Length", testKey, chargeSuccessBody, strings.Repeat("ab", 32), false},
		{"emptyKey", "", chargeSuccessBody, referenceSignature("", chargeSuccessBody), false},
	} {
		if got := VerifySignature(tc.key, []byte(tc.body), tc.sig); got != tc.want {
			t.Errorf("%s: VerifySignature = %v", tc.name, got)
		}
	}
}

func TestParseEvent(t *testing.T) {
	sig := referenceSignature(testKey, chargeSuccessBody)
	ev, err := ParseEvent(testKey, []byte(chargeSuccessBody), sig)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ev.Transaction()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name != EventChargeSuccess || tx.ID != 3104021987 || tx.Reference != "zuz8ggd1ro" ||
		tx.Amount != 25000 || tx.Fees == nil || *tx.Fees != 375 || tx.PaidAt == nil {
		t.Errorf("event %s: %+v", ev.Name, tx)
	}
	if _, err := ParseEvent(testKey, []byte(chargeSuccessBody), sig[:len(sig)-2]+"00"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("bad signature: %v", err)
	}
	bad := `{"event":`
	if _, err := ParseEvent(testKey, []byte(bad), referenceSignature(testKey, bad)); err == nil || errors.Is(err, ErrBadSignature) {
		t.Errorf("malformed body: %v", err)
	}
}
