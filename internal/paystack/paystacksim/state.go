package paystacksim

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/ticketd-io/ticketd/internal/paystack"
)

// txn is a transaction as the simulator keeps it.
type txn struct {
	id                uint64
	reference         string
	accessCode        string
	key               string // the bearer key that created it
	customer          *customer
	amount            int64
	currency          string
	status            string
	gatewayResponse   string
	callbackURL       string
	metadata          json.RawMessage // as sent; nil when none
	subaccount        string
	transactionCharge int64
	bearer            string
	createdAt         time.Time
	paidAt            *time.Time
	fees              *int64
	authCode          string
	// refunded is what pending and processed refunds take from the amount;
	// reversed is what processed refunds took.
	refunded, reversed int64
}

// open reports whether the checkout can still change the transaction:
// abandoned is not final on Paystack, the buyer may come back and pay.
func (t *txn) open() bool {
	return t.status != paystack.StatusSuccess && t.status != paystack.StatusFailed &&
		t.status != paystack.StatusReversed
}

type customer struct {
	id    uint64
	code  string
	email string
}

type refund struct {
	id              uint64
	txn             *txn
	amount          int64
	currency        string
	status          string
	refundReference string
	customerNote    string
	merchantNote    string
	createdAt       time.Time
	updatedAt       time.Time
	expectedAt      time.Time
	refundedAt      *time.Time
}

type subaccount struct {
	id               uint64
	code             string
	businessName     string
	settlementBank   string // the bank's name
	accountNumber    string
	percentageCharge float64
	createdAt        time.Time
}

// newID returns the next id; one sequence serves every kind of object.
// The caller holds s.mu.
func (s *Sim) newID() uint64 {
	s.nextID++
	return s.nextID
}

// customerFor returns the customer with the given email, creating it.
// The caller holds s.mu.
func (s *Sim) customerFor(email string) *customer {
	k := strings.ToLower(email)
	if c, ok := s.customers[k]; ok {
		return c
	}
	c := &customer{id: s.newID(), code: "CUS_" + randomCode(15), email: email}
	s.customers[k] = c
	return c
}

// fees is the simulator's approximation of Paystack's local card pricing
// (1.5%, plus 100 in the major unit from 2,500 up, capped at 2,000). It is
// sim-defined: the reference does not document pricing.
func fees(amount int64) int64 {
	f := amount * 15 / 1000
	if amount >= 250000 {
		f += 10000
	}
	return min(f, 200000)
}

// timestamp formats t as Paystack does: 2024-08-22T09:15:02.000Z.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func timestampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}

// wireTransaction is the transaction object of verify, list and
// charge.success, field for field as in the reference's samples.
type wireTransaction struct {
	ID                 uint64          `json:"id"`
	Domain             string          `json:"domain"`
	Status             string          `json:"status"`
	Reference          string          `json:"reference"`
	ReceiptNumber      *string         `json:"receipt_number"`
	Amount             int64           `json:"amount"`
	Message            *string         `json:"message"`
	GatewayResponse    string          `json:"gateway_response"`
	PaidAt             *string         `json:"paid_at"`
	CreatedAt          string          `json:"created_at"`
	Channel            string          `json:"channel"`
	Currency           string          `json:"currency"`
	IPAddress          *string         `json:"ip_address"`
	Metadata           json.RawMessage `json:"metadata"`
	Log                any             `json:"log"`
	Fees               *int64          `json:"fees"`
	FeesSplit          any             `json:"fees_split"`
	Authorization      any             `json:"authorization"`
	Customer           wireCustomer    `json:"customer"`
	Plan               any             `json:"plan"`
	Split              struct{}        `json:"split"`
	OrderID            any             `json:"order_id"`
	PaidAtCamel        *string         `json:"paidAt"`
	CreatedAtCamel     string          `json:"createdAt"`
	RequestedAmount    int64           `json:"requested_amount"`
	PosTransactionData any             `json:"pos_transaction_data"`
	Source             any             `json:"source"`
	FeesBreakdown      any             `json:"fees_breakdown"`
	Connect            any             `json:"connect"`
	TransactionDate    string          `json:"transaction_date"`
	PlanObject         struct{}        `json:"plan_object"`
	Subaccount         any             `json:"subaccount"`
}

type wireCustomer struct {
	ID                       uint64  `json:"id"`
	FirstName                *string `json:"first_name"`
	LastName                 *string `json:"last_name"`
	Email                    string  `json:"email"`
	CustomerCode             string  `json:"customer_code"`
	Phone                    *string `json:"phone"`
	Metadata                 any     `json:"metadata"`
	RiskAction               string  `json:"risk_action"`
	InternationalFormatPhone *string `json:"international_format_phone"`
}

// wireTransaction renders t. The caller holds s.mu.
func (s *Sim) wireTransaction(t *txn) wireTransaction {
	w := wireTransaction{
		ID:              t.id,
		Domain:          "test",
		Status:          t.status,
		Reference:       t.reference,
		Amount:          t.amount,
		GatewayResponse: t.gatewayResponse,
		PaidAt:          timestampPtr(t.paidAt),
		CreatedAt:       timestamp(t.createdAt),
		Channel:         "card",
		Currency:        t.currency,
		// Paystack answers "" for a transaction initialized without
		// metadata.
		Metadata:      json.RawMessage(`""`),
		Fees:          t.fees,
		Authorization: struct{}{},
		Customer: wireCustomer{
			ID: t.customer.id, Email: t.customer.email, CustomerCode: t.customer.code, RiskAction: "default",
		},
		PaidAtCamel:     timestampPtr(t.paidAt),
		CreatedAtCamel:  timestamp(t.createdAt),
		RequestedAmount: t.amount,
		Source: map[string]any{
			"type": "api", "source": "merchant_api", "entry_point": "transaction_initialize", "identifier": nil,
		},
		TransactionDate: timestamp(t.createdAt),
		Subaccount:      struct{}{},
	}
	if len(t.metadata) > 0 {
		w.Metadata = t.metadata
	}
	if t.status != paystack.StatusAbandoned {
		ip := "127.0.0.1"
		w.IPAddress = &ip
		w.Log = s.paymentLog(t)
	}
	if t.status == paystack.StatusSuccess || t.status == paystack.StatusReversed {
		w.Authorization = map[string]any{
			"authorization_code": t.authCode, "bin": "408408", "last4": "4081",
			"exp_month": "12", "exp_year": "2030", "channel": "card", "card_type": "visa ",
			"bank": "TEST BANK", "country_code": "NG", "brand": "visa", "reusable": true,
			"signature": "SIG_" + t.authCode[len("AUTH_"):], "account_name": nil,
		}
	}
	if t.subaccount != "" {
		w.Subaccount, w.FeesSplit = s.split(t)
	}
	return w
}

// paymentLog is the checkout log of a completed attempt.
func (s *Sim) paymentLog(t *txn) map[string]any {
	last := map[string]any{"type": "success", "message": "Successfully paid with card", "time": 4}
	errs := 0
	if t.status == paystack.StatusFailed {
		last = map[string]any{"type": "error", "message": t.gatewayResponse, "time": 4}
		errs = 1
	}
	return map[string]any{
		"start_time": t.createdAt.Unix(), "time_spent": 4, "attempts": 1, "errors": errs,
		"success": errs == 0, "mobile": false, "input": []any{},
		"history": []any{
			map[string]any{"type": "action", "message": "Attempted to pay with card", "time": 3},
			last,
		},
	}
}

// split renders the subaccount and fees_split of a split payment. The
// integration keeps transaction_charge, or else the subaccount's
// percentage_charge; the bearer pays Paystack's fee. The caller holds s.mu.
func (s *Sim) split(t *txn) (sub any, feesSplit any) {
	var pct float64
	sa := map[string]any{"subaccount_code": t.subaccount}
	if a, ok := s.subaccounts[t.subaccount]; ok {
		pct = a.percentageCharge
		sa["id"], sa["business_name"], sa["settlement_bank"] = a.id, a.businessName, a.settlementBank
		sa["account_number"], sa["percentage_charge"] = a.accountNumber, a.percentageCharge
	}
	if t.fees == nil {
		return sa, nil
	}
	integration := t.transactionCharge
	if integration == 0 {
		integration = int64(float64(t.amount) * pct / 100)
	}
	subShare := t.amount - integration
	if t.bearer == "subaccount" {
		subShare -= *t.fees
	} else {
		integration -= *t.fees
	}
	charge := any("")
	if t.transactionCharge > 0 {
		charge = t.transactionCharge
	}
	bearer := t.bearer
	if bearer == "" {
		bearer = "account"
	}
	return sa, map[string]any{
		"paystack": *t.fees, "integration": integration, "subaccount": subShare,
		"params": map[string]any{
			"bearer": bearer, "transaction_charge": charge,
			"percentage_charge": jsonNumber(pct),
		},
	}
}

// jsonNumber formats f as JSON does (30, 0.2); the fees_split sample
// carries percentage_charge as such a string.
func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
