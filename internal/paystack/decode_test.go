package paystack

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The samples below are taken from shared/reference/paystack-api.md.

const verifySuccessSample = `{
  "status": true,
  "message": "Verification successful",
  "data": {
    "id": 4099260516, "domain": "test", "status": "success", "reference": "re4lyvq3s3",
    "receipt_number": null, "amount": 40333, "message": null, "gateway_response": "Successful",
    "paid_at": "2024-08-22T09:15:02.000Z", "created_at": "2024-08-22T09:14:24.000Z",
    "channel": "card", "currency": "NGN", "ip_address": "197.210.54.33", "metadata": "",
    "log": { "start_time": 1724318098, "time_spent": 4, "attempts": 1, "errors": 0,
      "success": true, "mobile": false, "input": [],
      "history": [ { "type": "action", "message": "Attempted to pay with card", "time": 3 },
                   { "type": "success", "message": "Successfully paid with card", "time": 4 } ] },
    "fees": 10283, "fees_split": null,
    "authorization": { "authorization_code": "AUTH_uh8bcl3zbn", "bin": "408408", "last4": "4081",
      "exp_month": "12", "exp_year": "2030", "channel": "card", "card_type": "visa ",
      "bank": "TEST BANK", "country_code": "NG", "brand": "visa", "reusable": true,
      "signature": "SIG_yEXu7dLBeqG0kU7g95Ke", "account_name": null },
    "customer": { "id": 181873746, "first_name": null, "last_name": null, "email": "demo@test.com",
      "customer_code": "CUS_1rkzaqsv4rrhqo6", "phone": null, "metadata": null,
      "risk_action": "default", "international_format_phone": null },
    "plan": null, "split": {}, "order_id": null,
    "paidAt": "2024-08-22T09:15:02.000Z", "createdAt": "2024-08-22T09:14:24.000Z",
    "requested_amount": 30050, "pos_transaction_data": null, "source": null,
    "fees_breakdown": null, "connect": null, "transaction_date": "2024-08-22T09:14:24.000Z",
    "plan_object": {}, "subaccount": {}
  }
}`

const verifyAbandonedSample = `{ "status": true, "message": "Verification successful",
  "data": { "id": 123456789, "domain": "test", "status": "abandoned", "reference": "PSK-1",
            "receipt_number": null, "amount": 105, "message": null,
            "gateway_response": "The transaction was not completed", "paid_at": null,
            "created_at": "2026-09-25T22:03:00.000Z", "channel": "card", "currency": "GHS",
            "metadata": "", "log": null, "fees": null, "fees_split": null, "authorization": {},
            "customer": { "email": "buyer@example.com", "customer_code": "CUS_x" },
            "plan": null, "split": {}, "paidAt": null, "requested_amount": 105 } }`

func decodeTransaction(t *testing.T, body string) Transaction {
	t.Helper()
	var got Transaction
	if err := decode("GET /transaction/verify/x", &response{status: 200, body: []byte(body)}, &got, nil); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return got
}

func TestDecodeVerifySuccessSample(t *testing.T) {
	got := decodeTransaction(t, verifySuccessSample)
	paid := time.Date(2024, 8, 22, 9, 15, 2, 0, time.UTC)
	fees := int64(10283)
	want := Transaction{
		ID: 4099260516, Domain: "test", Status: StatusSuccess, Reference: "re4lyvq3s3",
		Amount: 40333, RequestedAmount: 30050, Currency: "NGN", GatewayResponse: "Successful",
		PaidAt: &paid, CreatedAt: time.Date(2024, 8, 22, 9, 14, 24, 0, time.UTC), Channel: "card",
		Fees: &fees, Metadata: nil,
		Customer: Customer{ID: 181873746, Email: "demo@test.com", CustomerCode: "CUS_1rkzaqsv4rrhqo6"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestDecodeVerifyAbandonedSample(t *testing.T) {
	got := decodeTransaction(t, verifyAbandonedSample)
	if got.Status != StatusAbandoned || got.PaidAt != nil || got.Fees != nil || got.Metadata != nil {
		t.Errorf("abandoned: %+v", got)
	}
	if got.Amount != 105 || got.Currency != "GHS" || got.Customer.Email != "buyer@example.com" {
		t.Errorf("abandoned: %+v", got)
	}
}

// TestDecodeTransactionDrift covers each documented drift on its own.
func TestDecodeTransactionDrift(t *testing.T) {
	obj := map[string]any{"cart_id": float64(398), "custom_fields": []any{map[string]any{
		"display_name": "Cart Items", "variable_name": "cart_items", "value": "3 bananas, 12 mangoes"}}}
	for _, tc := range []struct {
		name  string
		field string // replaces "metadata": "" of the abandoned sample
		check func(t *testing.T, tx Transaction)
	}{
		{"metadataObject", `"metadata": {"cart_id": 398, "custom_fields": [{"display_name": "Cart Items", "variable_name": "cart_items", "value": "3 bananas, 12 mangoes"}]}`,
			func(t *testing.T, tx Transaction) {
				if !reflect.DeepEqual(tx.Metadata, obj) {
					t.Errorf("metadata %v", tx.Metadata)
				}
			}},
		{"metadataJSONString", `"metadata": "{\"cart_id\": 398, \"custom_fields\": [{\"display_name\": \"Cart Items\", \"variable_name\": \"cart_items\", \"value\": \"3 bananas, 12 mangoes\"}]}"`,
			func(t *testing.T, tx Transaction) {
				if !reflect.DeepEqual(tx.Metadata, obj) {
					t.Errorf("metadata %v", tx.Metadata)
				}
			}},
		{"metadataNull", `"metadata": null`, func(t *testing.T, tx Transaction) {
			if tx.Metadata != nil {
				t.Errorf("metadata %v", tx.Metadata)
			}
		}},
		{"metadataZero", `"metadata": 0`, func(t *testing.T, tx Transaction) {
			if tx.Metadata != nil {
				t.Errorf("metadata %v", tx.Metadata)
			}
		}},
		{"metadataPlainString", `"metadata": "booking 42"`, func(t *testing.T, tx Transaction) {
			if tx.Metadata != nil {
				t.Errorf("metadata %v", tx.Metadata)
			}
		}},
		{"amountString", `"metadata": "", "amount": "5000", "requested_amount": "5000"`, func(t *testing.T, tx Transaction) {
			if tx.Amount != 5000 || tx.RequestedAmount != 5000 {
				t.Errorf("amount %d requested %d", tx.Amount, tx.RequestedAmount)
			}
		}},
		{"feesNumber", `"metadata": "", "fees": 375`, func(t *testing.T, tx Transaction) {
			if tx.Fees == nil || *tx.Fees != 375 {
				t.Errorf("fees %v", tx.Fees)
			}
		}},
		{"feesZeroIsNotNull", `"metadata": "", "fees": 0`, func(t *testing.T, tx Transaction) {
			if tx.Fees == nil || *tx.Fees != 0 {
				t.Errorf("fees %v", tx.Fees)
			}
		}},
		{"paidAtCamelOnly", `"metadata": "", "paid_at": null, "paidAt": "2023-09-12T13:29:09.000Z"`, func(t *testing.T, tx Transaction) {
			if tx.PaidAt == nil || !tx.PaidAt.Equal(time.Date(2023, 9, 12, 13, 29, 9, 0, time.UTC)) {
				t.Errorf("paid_at %v", tx.PaidAt)
			}
		}},
		{"idString", `"metadata": "", "id": "4099260516"`, func(t *testing.T, tx Transaction) {
			if tx.ID != 4099260516 {
				t.Errorf("id %d", tx.ID)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(verifyAbandonedSample, `"metadata": ""`, tc.field, 1)
			// Later duplicate keys win in encoding/json, so the replacement
			// overrides the sample's own values.
			body = strings.Replace(body, `"requested_amount": 105 }`, `"requested_amount": 105, `+tc.field+` }`, 1)
			tc.check(t, decodeTransaction(t, body))
		})
	}
}

func TestDecodeRejectsUndocumentedAmounts(t *testing.T) {
	for _, amount := range []string{`"12.5"`, `12.5`, `"abc"`, `true`} {
		var tx Transaction
		if err := json.Unmarshal([]byte(`{"amount": `+amount+`}`), &tx); err == nil {
			t.Errorf("amount %s decoded as %d; want an error rather than a guess", amount, tx.Amount)
		}
	}
	var tx Transaction
	if err := json.Unmarshal([]byte(`{"amount": 2e4}`), &tx); err != nil || tx.Amount != 20000 {
		t.Errorf("amount 2e4: %d, %v", tx.Amount, err)
	}
}

func TestDecodeChargeSuccessWebhookSamples(t *testing.T) {
	// The older card sample: metadata 0, fees null.
	old := `{"event":"charge.success","data":{"id":302961,"domain":"live","status":"success",
	  "reference":"qTPrJoy9Bx","amount":10000,"message":null,"gateway_response":"Approved by Financial Institution",
	  "paid_at":"2016-09-30T21:10:19.000Z","created_at":"2016-09-30T21:09:56.000Z","channel":"card",
	  "currency":"NGN","ip_address":"41.242.49.37","metadata":0,"log":null,"fees":null,
	  "customer":{"id":68324,"first_name":"BoJack","last_name":"Horseman","email":"bojack@horseman.com",
	  "customer_code":"CUS_qo38as2hpsgk2r0","phone":null,"metadata":null,"risk_action":"default"},
	  "authorization":{"authorization_code":"AUTH_f5rnfq9p","bin":"539999","last4":"8877"},"plan":{}}}`
	ev := Event{}
	if err := json.Unmarshal([]byte(old), &ev); err != nil {
		t.Fatal(err)
	}
	tx, err := ev.Transaction()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name != EventChargeSuccess || tx.Reference != "qTPrJoy9Bx" || tx.Amount != 10000 ||
		tx.Fees != nil || tx.Metadata != nil || tx.PaidAt == nil || tx.Customer.Email != "bojack@horseman.com" {
		t.Errorf("old sample: %+v", tx)
	}
}

func TestDecodeRefundSamples(t *testing.T) {
	create := `{"status": true, "message": "Refund has been queued for processing",
	  "data": { "transaction": { "id": 1004723697, "domain": "live", "reference": "T685312322670591",
	      "amount": 10000, "paid_at": "2021-08-20T18:34:11.000Z", "channel": "apple_pay", "currency": "NGN",
	      "authorization": { "exp_month": null, "exp_year": null, "account_name": null },
	      "customer": { "international_format_phone": null }, "plan": {}, "subaccount": { "currency": null },
	      "split": {}, "order_id": null, "paidAt": "2021-08-20T18:34:11.000Z", "pos_transaction_data": null,
	      "source": null, "fees_breakdown": null },
	    "integration": 412829, "deducted_amount": 0, "channel": null,
	    "merchant_note": "Refund for transaction T685312322670591 by test@me.com",
	    "customer_note": "Refund for transaction T685312322670591", "status": "pending",
	    "refunded_by": "test@me.com", "expected_at": "2021-12-16T09:21:17.016Z", "currency": "NGN",
	    "domain": "live", "amount": 10000, "fully_deducted": false, "id": 3018284,
	    "createdAt": "2021-12-07T09:21:17.122Z", "updatedAt": "2021-12-07T09:21:17.122Z" } }`
	var r Refund
	if err := decode("POST /refund", &response{status: 200, body: []byte(create)}, &r, nil); err != nil {
		t.Fatal(err)
	}
	if r.ID != 3018284 || r.TransactionID != 1004723697 || r.TransactionReference != "T685312322670591" ||
		r.Amount != 10000 || r.Status != RefundPending || r.Channel != "" || r.ExpectedAt == nil ||
		r.CreatedAt.IsZero() || r.RefundedAt != nil {
		t.Errorf("create: %+v", r)
	}

	fetch := `{ "status": true, "message": "Refund retrieved",
	  "data": { "integration": 100982, "transaction": 1641, "dispute": null, "settlement": null, "domain": "live",
	    "amount": 500000, "deducted_amount": 500000, "fully_deducted": true, "currency": "NGN", "channel": "migs",
	    "status": "processed", "refunded_by": "eseyinwale@gmail.com", "refunded_at": "2018-01-12T10:54:47.000Z",
	    "expected_at": "2017-10-01T21:10:59.000Z", "customer_note": "xxx", "merchant_note": "xxx", "id": 1,
	    "createdAt": "2017-09-24T21:10:59.000Z", "updatedAt": "2018-01-18T11:59:56.000Z" } }`
	r = Refund{}
	if err := decode("GET /refund/1", &response{status: 200, body: []byte(fetch)}, &r, nil); err != nil {
		t.Fatal(err)
	}
	if r.ID != 1 || r.TransactionID != 1641 || r.Status != RefundProcessed || r.DeductedAmount != 500000 ||
		!r.FullyDeducted || r.RefundedAt == nil {
		t.Errorf("fetch: %+v", r)
	}

	for _, tc := range []struct{ body, status string }{
		{`{ "event": "refund.processed", "data": { "status": "processed", "transaction_reference": "T2154954_412829_3be32076_6lcg3",
		    "refund_reference": "132013318360", "amount": "5000", "currency": "NGN", "processor": "mpgs_zen",
		    "customer": { "first_name": "Damilola", "last_name": "Kwabena", "email": "damilola@email.com" },
		    "integration": 412829, "domain": "live" } }`, RefundProcessed},
		{`{ "event": "refund.failed", "data": { "status": "failed", "transaction_reference": "T2154954_412829_3be32076_6lcg3",
		    "refund_reference": "TRF_9vgfawjnoz58uxy", "amount": 5000, "currency": "NGN", "processor": "instant-transfer",
		    "customer": { "first_name": "Tobi", "last_name": "Digz", "email": "tobi@mail.com" },
		    "integration": 412325, "domain": "live" } }`, RefundFailed},
		{`{ "event": "refund.pending", "data": { "status": "pending", "transaction_reference": "T2154954_412829_3be32076_6lcg3",
		    "refund_reference": null, "amount": "5000", "currency": "NGN", "integration": 412829, "domain": "live" } }`, RefundPending},
		{`{ "event": "refund.needs-attention", "data": { "id": "123456", "status": "needs-attention",
		    "transaction_reference": "T2154954_412829_3be32076_6lcg3", "amount": "5000", "currency": "NGN",
		    "customer_note": "x", "merchant_note": "y", "domain": "live" } }`, RefundNeedsAttention},
	} {
		var ev Event
		if err := json.Unmarshal([]byte(tc.body), &ev); err != nil {
			t.Fatal(err)
		}
		r, err := ev.Refund()
		if err != nil {
			t.Fatalf("%s: %v", ev.Name, err)
		}
		if r.Amount != 5000 || r.Status != tc.status || r.TransactionReference != "T2154954_412829_3be32076_6lcg3" {
			t.Errorf("%s: %+v", ev.Name, r)
		}
	}
}

func TestDecodeMetaOffsetAndCursor(t *testing.T) {
	var m Meta
	body := `{"status":true,"message":"Transactions retrieved","data":[],
	  "meta": { "total": 7316, "total_volume": 397800, "skipped": 0, "perPage": 50, "page": 1, "pageCount": 147 }}`
	if err := decode("GET /transaction", &response{status: 200, body: []byte(body)}, &[]Transaction{}, &m); err != nil {
		t.Fatal(err)
	}
	if (m != Meta{Total: 7316, TotalVolume: 397800, PerPage: 50, Page: 1, PageCount: 147}) {
		t.Errorf("offset meta %+v", m)
	}
	m = Meta{}
	if err := json.Unmarshal([]byte(`{ "next": "dW5kZWZpbmVkOjQwOTczNTgxNTg=", "previous": "null", "perPage": "49" }`), &m); err != nil {
		t.Fatal(err)
	}
	if (m != Meta{Next: "dW5kZWZpbmVkOjQwOTczNTgxNTg=", PerPage: 49}) {
		t.Errorf("cursor meta %+v", m)
	}
}

func TestDecodeSubaccountSample(t *testing.T) {
	body := `{ "status": true, "message": "Subaccount created",
	  "data": { "business_name": "Oasis", "account_number": "0123456047", "percentage_charge": 30,
	    "settlement_bank": "Guaranty Trust Bank", "currency": "NGN", "bank": 9, "integration": 463433,
	    "domain": "test", "account_name": "LARRY JAMES  O", "product": "collection",
	    "managed_by_integration": 463433, "subaccount_code": "ACCT_6uujpqtzmnufzkw", "is_verified": false,
	    "settlement_schedule": "AUTO", "active": true, "migrate": false, "id": 1151727,
	    "createdAt": "2024-08-26T09:24:28.723Z", "updatedAt": "2024-08-26T09:24:28.723Z" } }`
	var s Subaccount
	if err := decode("POST /subaccount", &response{status: 201, body: []byte(body)}, &s, nil); err != nil {
		t.Fatal(err)
	}
	want := Subaccount{ID: 1151727, SubaccountCode: "ACCT_6uujpqtzmnufzkw", BusinessName: "Oasis",
		AccountNumber: "0123456047", SettlementBank: "Guaranty Trust Bank", PercentageCharge: 30,
		Currency: "NGN", Active: true, Domain: "test"}
	if s != want {
		t.Errorf("got %+v", s)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body         string
		status             int
		notFound, dup      bool
		message, errorCode string
	}{
		{"duplicate400", `{ "status": false, "message": "Duplicate Transaction Reference",
		    "meta": { "nextStep": "Try and create the Transaction or Charge with a new reference" },
		    "type": "validation_error", "code": "duplicate_reference", "errorCodeMappingNotFound": false }`,
			400, false, true, "Duplicate Transaction Reference", "duplicate_reference"},
		{"unknownReference404", `{"status": false, "message": "Transaction reference not found"}`,
			404, true, false, "Transaction reference not found", ""},
		{"unknownReference400", `{"status": false, "message": "Transaction reference not found"}`,
			400, true, false, "Transaction reference not found", ""},
		{"entityNotFound404", `{ "status": false, "message": "Entity not found" }`, 404, true, false, "Entity not found", ""},
		{"statusAsString", `{ "status": "false", "message": "Invalid key" }`, 401, false, false, "Invalid key", ""},
		{"falseWith200", `{ "status": false, "message": "Something failed" }`, 200, false, false, "Something failed", ""},
		{"proxy404IsNotNotFound", `<html>Not Found</html>`, 404, false, false, "Not Found", ""},
		{"gateway502", ``, 502, false, false, "Bad Gateway", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decode("GET /x", &response{status: tc.status, body: []byte(tc.body)}, nil, nil)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err %v is not an *APIError", err)
			}
			if ae.StatusCode != tc.status || ae.Message != tc.message || ae.Code != tc.errorCode {
				t.Errorf("got %+v", ae)
			}
			if IsNotFound(err) != tc.notFound || IsDuplicateReference(err) != tc.dup {
				t.Errorf("IsNotFound %v IsDuplicateReference %v", IsNotFound(err), IsDuplicateReference(err))
			}
		})
	}
}

func TestTransactionJSONRoundTrip(t *testing.T) {
	in := decodeTransaction(t, verifySuccessSample)
	in.Metadata = map[string]any{"booking": "b-1"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Transaction
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %+v\nout %+v", in, out)
	}
}
