package paystacksim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ticketd-io/ticketd/internal/paystack"
)

// referenceChars is what Paystack allows in a reference: "Only -, ., = and
// alphanumeric characters allowed."
var referenceChars = regexp.MustCompile(`^[A-Za-z0-9.=-]+$`)

// currencies are those the reference lists as supported.
var currencies = []string{"NGN", "GHS", "KES", "ZAR", "USD", "XOF"}

// decodeBody decodes a JSON request body of at most 1 MiB.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON body") // sim-defined
		return false
	}
	return true
}

// parseAmount reads an amount sent as a JSON number or numeric string.
// present is false when the field is absent, null or "".
func parseAmount(raw json.RawMessage) (n int64, present, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return 0, false, true
	}
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return 0, true, false
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, true, err == nil
}

// initialize is POST /transaction/initialize.
func (s *Sim) initialize(w http.ResponseWriter, r *http.Request, key string) {
	var in struct {
		Email             string          `json:"email"`
		Amount            json.RawMessage `json:"amount"`
		Currency          string          `json:"currency"`
		Reference         string          `json:"reference"`
		CallbackURL       string          `json:"callback_url"`
		Metadata          json.RawMessage `json:"metadata"`
		Subaccount        string          `json:"subaccount"`
		TransactionCharge json.RawMessage `json:"transaction_charge"`
		Bearer            string          `json:"bearer"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	in.Email = strings.TrimSpace(in.Email)
	if in.Email == "" {
		writeValidation(w, "Email Address is required", "missing_params", "Provide all required params ")
		return
	}
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email {
		writeError(w, http.StatusBadRequest, "Invalid Email Address Passed")
		return
	}
	amount, present, ok := parseAmount(in.Amount)
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid Amount Sent")
		return
	}
	if !present || amount <= 0 {
		writeError(w, http.StatusBadRequest, "You must specify a valid amount")
		return
	}
	currency := strings.ToUpper(strings.TrimSpace(in.Currency))
	if currency == "" {
		currency = s.cfg.Currency
	}
	if !slices.Contains(currencies, currency) {
		writeError(w, http.StatusBadRequest, "Currency not supported by merchant")
		return
	}
	if in.Reference != "" && !referenceChars.MatchString(in.Reference) {
		writeError(w, http.StatusBadRequest, "Invalid character in transaction reference")
		return
	}
	if in.Subaccount != "" && !strings.HasPrefix(in.Subaccount, "ACCT_") {
		writeError(w, http.StatusBadRequest, "Invalid Subaccount")
		return
	}
	charge, _, ok := parseAmount(in.TransactionCharge)
	if !ok || charge < 0 || charge > amount {
		writeError(w, http.StatusBadRequest, "Invalid Split transaction values")
		return
	}
	var metadata json.RawMessage
	if m := bytes.TrimSpace(in.Metadata); len(m) > 0 && string(m) != "null" {
		metadata = m
	}

	s.mu.Lock()
	ref := in.Reference
	if ref == "" {
		for ref == "" || s.byRef[ref] != nil {
			ref = randomCode(10)
		}
	}
	if s.byRef[ref] != nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, errorBody{
			Message: "Duplicate Transaction Reference",
			Meta:    &nextStep{NextStep: "Try and create the Transaction or Charge with a new reference"},
			Type:    "validation_error", Code: "duplicate_reference",
		})
		return
	}
	code := randomCode(15)
	for s.byCode[code] != nil {
		code = randomCode(15)
	}
	t := &txn{
		id:                s.newID(),
		reference:         ref,
		accessCode:        code,
		key:               key,
		customer:          s.customerFor(in.Email),
		amount:            amount,
		currency:          currency,
		status:            paystack.StatusAbandoned,
		gatewayResponse:   "The transaction was not completed",
		callbackURL:       in.CallbackURL,
		metadata:          metadata,
		subaccount:        in.Subaccount,
		transactionCharge: charge,
		bearer:            in.Bearer,
		createdAt:         s.now(),
	}
	s.txs = append(s.txs, t)
	s.byRef[ref], s.byCode[code], s.byID[t.id] = t, t, t
	s.mu.Unlock()

	writeOK(w, http.StatusOK, "Authorization URL created", paystack.Authorization{
		AuthorizationURL: s.publicURL(r) + "/checkout/" + code, AccessCode: code, Reference: ref,
	})
}

// verify is GET /transaction/verify/:reference. A known reference is
// always HTTP 200, whatever the transaction's status.
func (s *Sim) verify(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	t, ok := s.byRef[r.PathValue("reference")]
	var data wireTransaction
	if ok {
		data = s.wireTransaction(t)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Transaction reference not found")
		return
	}
	writeOK(w, http.StatusOK, "Verification successful", data)
}

// verifyEmpty is what Paystack answers when the reference is missing.
func (s *Sim) verifyEmpty(w http.ResponseWriter, r *http.Request, _ string) {
	writeError(w, http.StatusBadRequest, "Transaction ID should be numeric.")
}

// fetchTransaction is GET /transaction/:id.
func (s *Sim) fetchTransaction(w http.ResponseWriter, r *http.Request, _ string) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	t, ok := s.byID[id]
	var data wireTransaction
	if ok && err == nil {
		data = s.wireTransaction(t)
	}
	s.mu.Unlock()
	if err != nil || !ok {
		writeError(w, http.StatusNotFound, "Transaction not found")
		return
	}
	writeOK(w, http.StatusOK, "Transaction retrieved", data)
}

// listMeta is the offset pagination meta of GET /transaction.
type listMeta struct {
	Total       int   `json:"total"`
	TotalVolume int64 `json:"total_volume"`
	Skipped     int   `json:"skipped"`
	PerPage     int   `json:"perPage"`
	Page        int   `json:"page"`
	PageCount   int   `json:"pageCount"`
}

// listTransactions is GET /transaction: newest first, filtered by status
// and by creation time within [from, to].
func (s *Sim) listTransactions(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	perPage, page := positive(q.Get("perPage"), 50), positive(q.Get("page"), 1)
	status := q.Get("status")
	from, okFrom := parseBound(q.Get("from"), false)
	to, okTo := parseBound(q.Get("to"), true)
	if !okFrom || !okTo {
		writeError(w, http.StatusBadRequest, "Invalid date: use e.g. 2016-09-24T00:00:05.000Z or 2016-09-21") // sim-defined
		return
	}
	s.mu.Lock()
	var match []*txn
	var volume int64
	for i := len(s.txs) - 1; i >= 0; i-- {
		t := s.txs[i]
		if (status != "" && t.status != status) ||
			(!from.IsZero() && t.createdAt.Before(from)) ||
			(!to.IsZero() && t.createdAt.After(to)) {
			continue
		}
		match = append(match, t)
		volume += t.amount
	}
	slices.SortStableFunc(match, func(a, b *txn) int { return b.createdAt.Compare(a.createdAt) })
	skipped := (page - 1) * perPage
	data := []wireTransaction{}
	for i := skipped; i < len(match) && i < skipped+perPage; i++ {
		data = append(data, s.wireTransaction(match[i]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, okBody{
		Status: true, Message: "Transactions retrieved", Data: data,
		Meta: listMeta{
			Total: len(match), TotalVolume: volume, Skipped: skipped, PerPage: perPage, Page: page,
			PageCount: (len(match) + perPage - 1) / perPage,
		},
	})
}

// positive parses a positive integer query value, or returns def.
func positive(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return def
	}
	return n
}

// parseBound parses a from/to filter: a timestamp, or a date meaning the
// start (from) or the end (to) of that UTC day.
func parseBound(v string, end bool) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, false
	}
	if end {
		d = d.Add(24*time.Hour - time.Nanosecond)
	}
	return d, true
}

// createRefund is POST /refund. The refund starts pending and is processed
// RefundDelay later (or failed, under Faults.FailRefunds); a transaction
// whose amount is entirely refunded becomes reversed.
func (s *Sim) createRefund(w http.ResponseWriter, r *http.Request, _ string) {
	var in struct {
		Transaction  json.RawMessage `json:"transaction"`
		Amount       json.RawMessage `json:"amount"`
		Currency     string          `json:"currency"`
		CustomerNote string          `json:"customer_note"`
		MerchantNote string          `json:"merchant_note"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	amount, _, ok := parseAmount(in.Amount)
	if !ok || amount < 0 {
		writeError(w, http.StatusBadRequest, "Invalid Amount Sent")
		return
	}

	s.mu.Lock()
	t, msg, status := s.refundable(in.Transaction)
	if t != nil && s.faults.RejectRefunds > 0 {
		s.faults.RejectRefunds--
		t, msg, status = nil, "Refund could not be processed for this transaction", http.StatusBadRequest // sim-defined
	}
	if t != nil {
		remaining := t.amount - t.refunded
		switch {
		case in.Currency != "" && !strings.EqualFold(in.Currency, t.currency):
			msg, status = "Currency does not match the transaction's currency", http.StatusBadRequest // sim-defined
		case amount > t.amount:
			msg, status = "Refund amount cannot be more than the transaction amount", http.StatusBadRequest // sim-defined
		case remaining == 0:
			msg, status = "Transaction has been fully reversed", http.StatusBadRequest // sim-defined
		case amount > remaining:
			msg, status = "Refund amount cannot be more than the unrefunded amount", http.StatusBadRequest // sim-defined
		}
	}
	if status != 0 {
		s.mu.Unlock()
		writeError(w, status, msg)
		return
	}
	if amount == 0 {
		amount = t.amount - t.refunded
	}
	now := s.now()
	rf := &refund{
		id:           s.newID(),
		txn:          t,
		amount:       amount,
		currency:     t.currency,
		status:       paystack.RefundPending,
		customerNote: in.CustomerNote,
		merchantNote: in.MerchantNote,
		createdAt:    now,
		updatedAt:    now,
		expectedAt:   now.Add(9 * 24 * time.Hour),
	}
	if rf.customerNote == "" {
		rf.customerNote = "Refund for transaction " + t.reference
	}
	if rf.merchantNote == "" {
		rf.merchantNote = "Refund for transaction " + t.reference + " by " + refundedBy
	}
	t.refunded += amount
	s.refunds[rf.id] = rf
	data := s.wireRefund(rf, true)
	pending := s.refundEvent(paystack.EventRefundPending, rf)
	end := paystack.RefundProcessed
	if s.faults.FailRefunds > 0 {
		s.faults.FailRefunds--
		end = paystack.RefundFailed
	}
	faults := s.faults
	s.mu.Unlock()

	s.dispatch(pending, faults, nil, 0)
	half := s.cfg.RefundDelay / 2
	s.spawn(nil, half, func(ctx context.Context) {
		s.advanceRefund(rf, paystack.RefundProcessing)
		if sleep(ctx, s.cfg.RefundDelay-half) == nil {
			s.advanceRefund(rf, end)
		}
	})
	writeOK(w, http.StatusOK, "Refund has been queued for processing", data)
}

// refundedBy is who the simulator says refunded, in refund objects.
const refundedBy = "sim@paystack.local"

// refundable finds the transaction of a refund request by id (a number or
// numeric string) or reference, and checks that it was paid. The caller
// holds s.mu.
func (s *Sim) refundable(raw json.RawMessage) (*txn, string, int) {
	raw = bytes.TrimSpace(raw)
	var key string
	if len(raw) > 0 && raw[0] == '"' {
		json.Unmarshal(raw, &key)
	} else if string(raw) != "null" {
		key = string(raw)
	}
	if key == "" {
		return nil, "Transaction reference or id is required", http.StatusBadRequest // sim-defined
	}
	t := s.byRef[key]
	if t == nil {
		if id, err := strconv.ParseUint(key, 10, 64); err == nil {
			t = s.byID[id]
		}
	}
	switch {
	case t == nil:
		return nil, "Transaction not found", http.StatusNotFound
	case t.status != paystack.StatusSuccess && t.status != paystack.StatusReversed:
		return nil, "Cannot refund a transaction that was not successful", http.StatusBadRequest // sim-defined
	}
	return t, "", 0
}

// advanceRefund moves a refund to status and sends the matching event.
func (s *Sim) advanceRefund(rf *refund, status string) {
	s.mu.Lock()
	now := s.now()
	rf.status, rf.updatedAt = status, now
	switch status {
	case paystack.RefundProcessed:
		rf.refundedAt = &now
		rf.refundReference = strconv.FormatUint(rf.id*7919, 10)
		rf.txn.reversed += rf.amount
		if rf.txn.reversed >= rf.txn.amount {
			rf.txn.status = paystack.StatusReversed
		}
	case paystack.RefundFailed:
		// "Your account will be credited with refund amount": it may be
		// refunded again.
		rf.txn.refunded -= rf.amount
	}
	ev := s.refundEvent("refund."+status, rf)
	f := s.faults
	s.mu.Unlock()
	s.dispatch(ev, f, nil, 0)
}

// fetchRefund is GET /refund/:id.
func (s *Sim) fetchRefund(w http.ResponseWriter, r *http.Request, _ string) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	rf, ok := s.refunds[id]
	var data map[string]any
	if ok && err == nil {
		data = s.wireRefund(rf, false)
	}
	s.mu.Unlock()
	if err != nil || !ok {
		writeError(w, http.StatusNotFound, "Refund not found") // sim-defined
		return
	}
	writeOK(w, http.StatusOK, "Refund retrieved", data)
}

// wireRefund renders a refund as create (withTxn: the transaction as an
// object) or fetch (the transaction's id) does. The caller holds s.mu.
func (s *Sim) wireRefund(rf *refund, withTxn bool) map[string]any {
	var deducted int64
	var channel any
	if rf.status == paystack.RefundProcessed {
		deducted, channel = rf.amount, "card"
	}
	m := map[string]any{
		"integration": 412829, "transaction": rf.txn.id, "dispute": nil, "settlement": nil,
		"domain": "test", "amount": rf.amount, "deducted_amount": deducted,
		"fully_deducted": rf.status == paystack.RefundProcessed, "currency": rf.currency,
		"channel": channel, "status": rf.status, "refunded_by": refundedBy,
		"refunded_at": timestampPtr(rf.refundedAt), "expected_at": timestamp(rf.expectedAt),
		"customer_note": rf.customerNote, "merchant_note": rf.merchantNote, "id": rf.id,
		"createdAt": timestamp(rf.createdAt), "updatedAt": timestamp(rf.updatedAt),
	}
	if withTxn {
		t := rf.txn
		m["transaction"] = map[string]any{
			"id": t.id, "domain": "test", "reference": t.reference, "amount": t.amount,
			"paid_at": timestampPtr(t.paidAt), "channel": "card", "currency": t.currency,
			"authorization": map[string]any{"exp_month": nil, "exp_year": nil, "account_name": nil},
			"customer":      map[string]any{"international_format_phone": nil},
			"plan":          struct{}{}, "subaccount": map[string]any{"currency": nil}, "split": struct{}{},
			"order_id": nil, "paidAt": timestampPtr(t.paidAt), "pos_transaction_data": nil,
			"source": nil, "fees_breakdown": nil,
		}
	}
	return m
}

// refundEvent builds a refund.* webhook as in the reference's samples:
// amount is a string except in refund.failed, refund_reference is null
// until processed. The caller holds s.mu.
func (s *Sim) refundEvent(name string, rf *refund) *event {
	var amount any = strconv.FormatInt(rf.amount, 10)
	if name == paystack.EventRefundFailed {
		amount = rf.amount
	}
	var ref any
	if rf.refundReference != "" {
		ref = rf.refundReference
	}
	return s.newEvent(name, rf.txn, map[string]any{
		"status": rf.status, "transaction_reference": rf.txn.reference, "refund_reference": ref,
		"amount": amount, "currency": rf.currency, "processor": "paystacksim",
		"customer":    map[string]any{"first_name": nil, "last_name": nil, "email": rf.txn.customer.email},
		"integration": 412829, "domain": "test",
	})
}

// banks names the settlement banks of the reference's samples; other codes
// get a placeholder name (sim-defined).
var banks = map[string]string{
	"011": "First Bank of Nigeria", "033": "United Bank For Africa", "044": "Access Bank",
	"057": "Zenith Bank", "058": "Guaranty Trust Bank",
}

// createSubaccount is POST /subaccount.
func (s *Sim) createSubaccount(w http.ResponseWriter, r *http.Request, _ string) {
	var in struct {
		BusinessName     string          `json:"business_name"`
		SettlementBank   string          `json:"settlement_bank"`
		AccountNumber    string          `json:"account_number"`
		PercentageCharge json.RawMessage `json:"percentage_charge"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	var pct float64
	pctErr := json.Unmarshal(in.PercentageCharge, &pct)
	if pctErr != nil {
		var str string
		if json.Unmarshal(in.PercentageCharge, &str) == nil {
			pct, pctErr = strconv.ParseFloat(str, 64)
		}
	}
	switch {
	case in.BusinessName == "" || in.SettlementBank == "" || in.AccountNumber == "" || len(in.PercentageCharge) == 0:
		writeValidation(w, "business_name, settlement_bank, account_number and percentage_charge are required",
			"missing_params", "Provide all required params ") // sim-defined message
		return
	case pctErr != nil || pct < 0 || pct > 100:
		writeError(w, http.StatusBadRequest, "Invalid percentage charge") // sim-defined
		return
	}
	bank, ok := banks[in.SettlementBank]
	if !ok {
		bank = "Test Bank " + in.SettlementBank
	}
	s.mu.Lock()
	a := &subaccount{
		id: s.newID(), code: "ACCT_" + randomCode(15), businessName: in.BusinessName,
		settlementBank: bank, accountNumber: in.AccountNumber, percentageCharge: pct, createdAt: s.now(),
	}
	s.subaccounts[a.code] = a
	s.mu.Unlock()
	writeOK(w, http.StatusCreated, "Subaccount created", map[string]any{
		"business_name": a.businessName, "account_number": a.accountNumber,
		"percentage_charge": a.percentageCharge, "settlement_bank": a.settlementBank,
		"currency": s.cfg.Currency, "bank": 9, "integration": 412829, "domain": "test",
		"account_name": "SIM TEST ACCOUNT", "product": "collection", "managed_by_integration": 412829,
		"subaccount_code": a.code, "is_verified": false, "settlement_schedule": "AUTO",
		"active": true, "migrate": false, "id": a.id,
		"createdAt": timestamp(a.createdAt), "updatedAt": timestamp(a.createdAt),
	})
}
