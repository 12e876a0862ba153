package main

import "testing"

func TestBuyerLimitOfCountsPerBuyer(t *testing.T) {
	if buyerLimitOf([]attempt{{status: 201}}, 0, 3) != nil {
		t.Fatal("buyerLimitOf without a limit is not nil")
	}
	refusal := attempt{status: 409, code: codeBuyerLimit, seat: -1}
	var res []attempt
	for range 3 { // buyer 0: three GA tickets, then refused twice
		res = append(res, attempt{status: 201, seat: -1, buyer: 0})
	}
	res = append(res, refusal, refusal)
	res = append(res,
		attempt{status: 201, seat: 4, buyer: 1}, // buyer 1: one seat
		attempt{status: 409, code: "SOLD_OUT", seat: -1, buyer: 1},
		attempt{status: statusDropped, seat: -1},
		attempt{status: statusNoAnswer, code: "timeout", seat: -1, buyer: 2})
	b := buyerLimitOf(res, 3, 3)
	want := buyerLimitReport{Max: 3, Buyers: 2, BuyersAtLimit: 1, MaxHeld: 3, Refusals: 2}
	if got := *b; got.Max != want.Max || got.Buyers != want.Buyers || got.BuyersAtLimit != want.BuyersAtLimit ||
		got.MaxHeld != want.MaxHeld || got.Refusals != want.Refusals || got.OverLimit != 0 || got.RefusedBelowLimit != 0 {
		t.Fatalf("buyerLimitOf = %+v, want %+v", got, want)
	}
	if bar := b.bar(); bar.Met {
		t.Error("the bar is met before Postgres was read")
	}
	b.Server = &serverBuyers{}
	if bar := b.bar(); !bar.Met || bar.Got != "0" {
		t.Errorf("bar %+v, want met with 0", bar)
	}
}

func TestBuyerLimitTallyFindsOverLimitAndWrongRefusals(t *testing.T) {
	b := &buyerLimitReport{Max: 2, got: []int{3, 1, 2}, refused: []int{0, 1, 1}}
	b.tally(nil)
	// buyer 0 is one over; buyer 1 was refused with one ticket.
	if b.OverLimit != 1 || b.RefusedBelowLimit != 1 || b.BuyersAtLimit != 2 || b.MaxHeld != 3 {
		t.Fatalf("tally(nil) = %+v", b)
	}
	// Postgres counts more than the tool was answered: its count decides.
	b.got = []int{2, 1, 2}
	b.tally([]int{2, 2, 4})
	if b.OverLimit != 2 || b.RefusedBelowLimit != 0 {
		t.Fatalf("tally(server) = %+v, want 2 over (buyer 2 by Postgres) and no wrong refusal", b)
	}
	// Tickets of strangers count over the limit too.
	b.Server = &serverBuyers{OverLimit: 5, Strangers: 3}
	b.tally([]int{2, 1, 2})
	if b.OverLimit != 5 {
		t.Fatalf("tally with strangers: over limit %d, want 5", b.OverLimit)
	}
}
