package paystack

import (
	"encoding/json"
	"time"
)

// Transaction statuses (data.status of verify and list). Only success means
// paid; abandoned is not final, it also means "not paid yet".
const (
	StatusSuccess    = "success"
	StatusFailed     = "failed"
	StatusAbandoned  = "abandoned"
	StatusReversed   = "reversed"
	StatusOngoing    = "ongoing"
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusQueued     = "queued"
)

// Refund statuses.
const (
	RefundPending        = "pending"
	RefundProcessing     = "processing"
	RefundNeedsAttention = "needs-attention"
	RefundProcessed      = "processed"
	RefundFailed         = "failed"
)

// InitializeRequest is the body of POST /transaction/initialize. Amounts are
// in the currency's minor unit (kobo, cents).
type InitializeRequest struct {
	Email       string         `json:"email"`
	Amount      int64          `json:"amount"`
	Currency    string         `json:"currency,omitempty"`
	Reference   string         `json:"reference,omitempty"`
	CallbackURL string         `json:"callback_url,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	// Channels limits the payment methods offered, e.g. ["card", "bank_transfer"].
	Channels []string `json:"channels,omitempty"`
	// Subaccount (ACCT_...) receives the split share of the payment.
	Subaccount string `json:"subaccount,omitempty"`
	// TransactionCharge is a flat amount, in minor units, that goes to the
	// main account (the platform fee), overriding the subaccount's
	// percentage charge.
	// Nil leaves the subaccount's own percentage charge in force.
	TransactionCharge *int64 `json:"transaction_charge,omitempty"`
	// Bearer is who pays Paystack's fees: "account" (default) or "subaccount".
	Bearer string `json:"bearer,omitempty"`
}

// Authorization is the answer to Initialize: where to send the customer.
type Authorization struct {
	AuthorizationURL string `json:"authorization_url"`
	AccessCode       string `json:"access_code"`
	Reference        string `json:"reference"`
}

// Transaction is a Paystack transaction as returned by verify, list and
// charge webhooks.
type Transaction struct {
	// ID is Paystack's id; it does not fit 32 bits.
	ID     uint64 `json:"id"`
	Domain string `json:"domain"` // "test" or "live"
	Status string `json:"status"`
	// Reference is the merchant's (or Paystack's generated) reference.
	Reference string `json:"reference"`
	// Amount is what was charged, in minor units. RequestedAmount is what
	// was asked for at initialize; the reference shows them differing.
	Amount          int64  `json:"amount"`
	RequestedAmount int64  `json:"requested_amount"`
	Currency        string `json:"currency"`
	// GatewayResponse is the processor's message, e.g. "Successful",
	// "Declined" or "The transaction was not completed".
	GatewayResponse string `json:"gateway_response"`
	// PaidAt is nil until the transaction is paid.
	PaidAt    *time.Time `json:"paid_at"`
	CreatedAt time.Time  `json:"created_at"`
	Channel   string     `json:"channel"`
	// Fees is Paystack's fee in minor units; nil when not (yet) charged.
	Fees *int64 `json:"fees"`
	// Metadata is the custom data sent at initialize, or nil when Paystack
	// returned none (null, "", 0) or something that is not a JSON object.
	Metadata map[string]any `json:"metadata"`
	Customer Customer       `json:"customer"`
}

// Customer is the customer of a transaction.
type Customer struct {
	ID           uint64 `json:"id"`
	Email        string `json:"email"`
	CustomerCode string `json:"customer_code"`
}

// ListOptions filters ListTransactions. Zero fields are not sent.
type ListOptions struct {
	// From and To bound the transactions' creation time.
	From, To time.Time
	// PerPage (Paystack's default 50) and Page (from 1) select the page.
	PerPage, Page int
	// Status is one of the Status constants.
	Status string
}

// Meta is the pagination meta of a list. Offset pagination fills Total to
// PageCount; cursor pagination fills Next and Previous.
type Meta struct {
	Total       int64  `json:"total"`
	TotalVolume int64  `json:"total_volume"`
	Skipped     int64  `json:"skipped"`
	PerPage     int    `json:"perPage"`
	Page        int    `json:"page"`
	PageCount   int    `json:"pageCount"`
	Next        string `json:"next,omitempty"`
	Previous    string `json:"previous,omitempty"`
}

// RefundRequest is the body of POST /refund.
type RefundRequest struct {
	// Transaction is the transaction's reference or its id in decimal.
	Transaction string `json:"transaction"`
	// Amount in minor units; 0 refunds whatever has not been refunded yet.
	Amount       int64  `json:"amount,omitempty"`
	Currency     string `json:"currency,omitempty"`
	CustomerNote string `json:"customer_note,omitempty"`
	MerchantNote string `json:"merchant_note,omitempty"`
}

// Refund is a refund as returned by create and fetch refund and by refund
// webhooks.
type Refund struct {
	ID uint64 `json:"id"`
	// TransactionID is set by create and fetch; TransactionReference by
	// create and by refund webhooks.
	TransactionID        uint64 `json:"transaction_id"`
	TransactionReference string `json:"transaction_reference"`
	// RefundReference is the processor's reference, once known.
	RefundReference string     `json:"refund_reference"`
	Amount          int64      `json:"amount"`
	DeductedAmount  int64      `json:"deducted_amount"`
	FullyDeducted   bool       `json:"fully_deducted"`
	Currency        string     `json:"currency"`
	Status          string     `json:"status"`
	Channel         string     `json:"channel"`
	CustomerNote    string     `json:"customer_note"`
	MerchantNote    string     `json:"merchant_note"`
	RefundedBy      string     `json:"refunded_by"`
	RefundedAt      *time.Time `json:"refunded_at"`
	ExpectedAt      *time.Time `json:"expected_at"`
	CreatedAt       time.Time  `json:"created_at"`
	Domain          string     `json:"domain"`
}

// SubaccountRequest is the body of POST /subaccount.
type SubaccountRequest struct {
	BusinessName string `json:"business_name"`
	// SettlementBank is the bank code from Paystack's bank list, e.g. "058".
	SettlementBank string `json:"settlement_bank"`
	AccountNumber  string `json:"account_number"`
	// PercentageCharge is the share of each payment, in percent, that the
	// main (platform) account keeps.
	PercentageCharge    float64 `json:"percentage_charge"`
	Description         string  `json:"description,omitempty"`
	PrimaryContactEmail string  `json:"primary_contact_email,omitempty"`
}

// Subaccount is a created subaccount.
type Subaccount struct {
	ID             uint64 `json:"id"`
	SubaccountCode string `json:"subaccount_code"`
	BusinessName   string `json:"business_name"`
	AccountNumber  string `json:"account_number"`
	// SettlementBank is the bank's name (the request takes its code).
	SettlementBank   string  `json:"settlement_bank"`
	PercentageCharge float64 `json:"percentage_charge"`
	Currency         string  `json:"currency"`
	Active           bool    `json:"active"`
	IsVerified       bool    `json:"is_verified"`
	Domain           string  `json:"domain"`
}

// UnmarshalJSON decodes a transaction leniently (see the package comment).
func (t *Transaction) UnmarshalJSON(b []byte) error {
	var w transactionJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*t = Transaction{
		ID:              w.ID.n,
		Domain:          w.Domain,
		Status:          w.Status,
		Reference:       w.Reference,
		Amount:          w.Amount.n,
		RequestedAmount: w.RequestedAmount.n,
		Currency:        w.Currency,
		GatewayResponse: w.GatewayResponse,
		PaidAt:          firstTime(w.PaidAt, w.PaidAtCamel),
		Channel:         w.Channel,
		Fees:            w.Fees.ptr(),
		Metadata:        decodeMetadata(w.Metadata),
		Customer:        w.Customer,
	}
	if c := firstTime(w.CreatedAt, w.CreatedAtCamel, w.TransactionDate); c != nil {
		t.CreatedAt = *c
	}
	return nil
}

// UnmarshalJSON decodes a customer whose id may be a number or a string.
func (c *Customer) UnmarshalJSON(b []byte) error {
	var w customerJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Customer{ID: w.ID.n, Email: w.Email, CustomerCode: w.CustomerCode}
	return nil
}

// UnmarshalJSON decodes list meta, whose perPage may be a string and whose
// previous cursor may be the string "null".
func (m *Meta) UnmarshalJSON(b []byte) error {
	var w metaJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Meta{
		Total:       w.Total.n,
		TotalVolume: w.TotalVolume.n,
		Skipped:     w.Skipped.n,
		PerPage:     int(w.PerPage.n),
		Page:        int(w.Page.n),
		PageCount:   int(w.PageCount.n),
		Next:        string(w.Next),
		Previous:    string(w.Previous),
	}
	return nil
}

// UnmarshalJSON decodes a refund from create (transaction as an object),
// fetch (transaction as an id) or a refund webhook (transaction_reference,
// amount as a string).
func (r *Refund) UnmarshalJSON(b []byte) error {
	var w refundJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Refund{
		ID:                   w.ID.n,
		TransactionID:        w.TransactionID.n,
		TransactionReference: string(w.TransactionReference),
		RefundReference:      string(w.RefundReference),
		Amount:               w.Amount.n,
		DeductedAmount:       w.DeductedAmount.n,
		FullyDeducted:        w.FullyDeducted,
		Currency:             w.Currency,
		Status:               w.Status,
		Channel:              string(w.Channel),
		CustomerNote:         string(w.CustomerNote),
		MerchantNote:         string(w.MerchantNote),
		RefundedBy:           string(w.RefundedBy),
		RefundedAt:           w.RefundedAt.t,
		ExpectedAt:           w.ExpectedAt.t,
		Domain:               w.Domain,
	}
	if c := firstTime(w.CreatedAt, w.CreatedAtCamel); c != nil {
		r.CreatedAt = *c
	}
	if err := r.decodeTransaction(w.Transaction); err != nil {
		return err
	}
	return nil
}

// decodeTransaction fills the transaction id and reference from the
// "transaction" field: an object in create, an id in fetch.
func (r *Refund) decodeTransaction(raw json.RawMessage) error {
	if isEmptyJSON(raw) {
		return nil
	}
	if raw[0] == '{' {
		var t struct {
			ID        flexUint `json:"id"`
			Reference string   `json:"reference"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		r.TransactionID = t.ID.n
		if t.Reference != "" {
			r.TransactionReference = t.Reference
		}
		return nil
	}
	var id flexUint
	if err := json.Unmarshal(raw, &id); err == nil {
		r.TransactionID = id.n
		return nil
	}
	// Neither an object nor an id: a reference.
	var ref string
	if err := json.Unmarshal(raw, &ref); err != nil {
		return err
	}
	r.TransactionReference = ref
	return nil
}

// UnmarshalJSON decodes a subaccount whose id and percentage charge may be
// strings.
func (s *Subaccount) UnmarshalJSON(b []byte) error {
	var w subaccountJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Subaccount{
		ID:               w.ID.n,
		SubaccountCode:   w.SubaccountCode,
		BusinessName:     w.BusinessName,
		AccountNumber:    string(w.AccountNumber),
		SettlementBank:   string(w.SettlementBank),
		PercentageCharge: float64(w.PercentageCharge),
		Currency:         w.Currency,
		Active:           w.Active,
		IsVerified:       w.IsVerified,
		Domain:           w.Domain,
	}
	return nil
}

// transactionJSON is the wire form Transaction.UnmarshalJSON reads.
type transactionJSON struct {
	ID              flexUint        `json:"id"`
	Domain          string          `json:"domain"`
	Status          string          `json:"status"`
	Reference       string          `json:"reference"`
	Amount          flexInt         `json:"amount"`
	RequestedAmount flexInt         `json:"requested_amount"`
	Currency        string          `json:"currency"`
	GatewayResponse string          `json:"gateway_response"`
	PaidAt          flexTime        `json:"paid_at"`
	PaidAtCamel     flexTime        `json:"paidAt"`
	CreatedAt       flexTime        `json:"created_at"`
	CreatedAtCamel  flexTime        `json:"createdAt"`
	TransactionDate flexTime        `json:"transaction_date"`
	Channel         string          `json:"channel"`
	Fees            flexInt         `json:"fees"`
	Metadata        json.RawMessage `json:"metadata"`
	Customer        Customer        `json:"customer"`
}

// customerJSON is the wire form Customer.UnmarshalJSON reads.
type customerJSON struct {
	ID           flexUint `json:"id"`
	Email        string   `json:"email"`
	CustomerCode string   `json:"customer_code"`
}

// metaJSON is the wire form Meta.UnmarshalJSON reads.
type metaJSON struct {
	Total       flexInt    `json:"total"`
	TotalVolume flexInt    `json:"total_volume"`
	Skipped     flexInt    `json:"skipped"`
	PerPage     flexInt    `json:"perPage"`
	Page        flexInt    `json:"page"`
	PageCount   flexInt    `json:"pageCount"`
	Next        flexString `json:"next"`
	Previous    flexString `json:"previous"`
}

// refundJSON is the wire form Refund.UnmarshalJSON reads.
type refundJSON struct {
	ID                   flexUint        `json:"id"`
	Transaction          json.RawMessage `json:"transaction"`
	TransactionID        flexUint        `json:"transaction_id"`
	TransactionReference flexString      `json:"transaction_reference"`
	RefundReference      flexString      `json:"refund_reference"`
	Amount               flexInt         `json:"amount"`
	DeductedAmount       flexInt         `json:"deducted_amount"`
	FullyDeducted        bool            `json:"fully_deducted"`
	Currency             string          `json:"currency"`
	Status               string          `json:"status"`
	Channel              flexString      `json:"channel"`
	CustomerNote         flexString      `json:"customer_note"`
	MerchantNote         flexString      `json:"merchant_note"`
	RefundedBy           flexString      `json:"refunded_by"`
	RefundedAt           flexTime        `json:"refunded_at"`
	ExpectedAt           flexTime        `json:"expected_at"`
	CreatedAt            flexTime        `json:"created_at"`
	CreatedAtCamel       flexTime        `json:"createdAt"`
	Domain               string          `json:"domain"`
}

// subaccountJSON is the wire form Subaccount.UnmarshalJSON reads.
type subaccountJSON struct {
	ID               flexUint   `json:"id"`
	SubaccountCode   string     `json:"subaccount_code"`
	BusinessName     string     `json:"business_name"`
	AccountNumber    flexString `json:"account_number"`
	SettlementBank   flexString `json:"settlement_bank"`
	PercentageCharge flexFloat  `json:"percentage_charge"`
	Currency         string     `json:"currency"`
	Active           bool       `json:"active"`
	IsVerified       bool       `json:"is_verified"`
	Domain           string     `json:"domain"`
}
