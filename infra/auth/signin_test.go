package auth

import (
	"fmt"
	"testing"
	"time"
)

var testPolicy = SignInPolicy{
	PairFailures: 5, PairLockout: 30 * time.Second, PairMaxLockout: 15 * time.Minute,
	AccountFailures: 20, AccountInterval: 5 * time.Second,
	ClientFailures: 50, ClientInterval: time.Second,
	Window: 15 * time.Minute, KnownFor: 24 * time.Hour, KnownPerAccount: 2,
}

func try(th *SignInThrottle, account, client string, now time.Time, right bool) bool {
	ok, _, _ := th.Begin(account, client, now)
	if !ok {
		return false
	}
	if right {
		th.Succeeded(account, client, now)
	} else {
		th.Failed(account, client, now)
	}
	return true
}

// An attacker guessing at a victim's account locks only themselves out:
// the owner signs in from their own address at once.
func TestSignInThirdPartyCannotLockOut(t *testing.T) {
	th := NewSignInThrottle(testPolicy)
	for range 100 {
		try(th, "victim", "6.6.6.6", t0, false)
	}
	if try(th, "victim", "6.6.6.6", t0.Add(time.Second), true) {
		t.Fatal("the attacker's address was let in with the right password while locked")
	}
	if !try(th, "victim", "192.0.2.10", t0.Add(time.Second), true) {
		t.Fatal("the owner, from another address, was locked out")
	}
	// One address guessing at many accounts (a NAT's attacker) does not lock
	// the others behind it out of their own accounts.
	for i := range 200 {
		try(th, fmt.Sprintf("user%d", i%40), "198.51.100.1", t0.Add(time.Hour+time.Duration(i)*time.Millisecond), false)
	}
	if ok, wait, _ := th.Begin("neighbour", "198.51.100.1", t0.Add(time.Hour+time.Second)); !ok && wait > testPolicy.ClientInterval {
		t.Fatalf("a neighbour behind the NAT waits %v, want at most %v", wait, testPolicy.ClientInterval)
	}
}

// Many addresses against one account (a botnet): past the account's limit
// strangers get one attempt per interval between them, while a client that
// signed in to the account before is not delayed at all.
func TestSignInDistributedGuessingIsDelayed(t *testing.T) {
	th := NewSignInThrottle(testPolicy)
	if !try(th, "victim", "192.0.2.10", t0, true) {
		t.Fatal("first sign-in refused")
	}
	now := t0.Add(time.Minute)
	in := 0
	for i := range 1000 {
		if try(th, "victim", fmt.Sprintf("10.0.%d.%d", i/250, i%250), now, false) {
			in++
		}
	}
	if in != testPolicy.AccountFailures+1 {
		t.Fatalf("%d of 1000 botnet guesses got in at once, want the limit (%d) and one more", in, testPolicy.AccountFailures)
	}
	if ok, wait, _ := th.Begin("victim", "203.0.113.77", now); ok || wait <= 0 || wait > testPolicy.AccountInterval {
		t.Fatalf("a stranger: ok %v, wait %v; want a delay of at most %v", ok, wait, testPolicy.AccountInterval)
	}
	ok, _, known := th.Begin("victim", "192.0.2.10", now)
	if !ok || !known {
		t.Fatalf("the owner from a known address: ok %v known %v, want let in and known", ok, known)
	}
	th.Succeeded("victim", "192.0.2.10", now)
	if !try(th, "victim", "203.0.113.77", now.Add(testPolicy.AccountInterval), true) {
		t.Fatal("a stranger was refused after the interval")
	}
}

// Known clients are remembered for KnownFor, at most KnownPerAccount each.
func TestSignInKnownClients(t *testing.T) {
	th := NewSignInThrottle(testPolicy)
	known := func(client string, at time.Time) bool {
		ok, _, k := th.Begin("a", client, at)
		if ok {
			th.Abandoned("a", client, at)
		}
		return k
	}
	if known("c1", t0) {
		t.Fatal("a client is known before it signed in")
	}
	try(th, "a", "c1", t0, false)
	if known("c1", t0) {
		t.Fatal("a failure made the client known")
	}
	try(th, "a", "c1", t0, true)
	try(th, "a", "c2", t0.Add(time.Second), true)
	if !known("c1", t0.Add(time.Hour)) {
		t.Fatal("forgotten within KnownFor")
	}
	try(th, "a", "c3", t0.Add(2*time.Second), true) // c1 is the least recently seen
	if known("c1", t0.Add(time.Hour)) || !known("c2", t0.Add(time.Hour)) || !known("c3", t0.Add(time.Hour)) {
		t.Fatal("the least recently seen client was not the one forgotten")
	}
	if known("c3", t0.Add(25*time.Hour)) {
		t.Fatal("still known after KnownFor")
	}
}

// A refusal by one limit leaves nothing reserved in the others.
func TestSignInRefusalReservesNothing(t *testing.T) {
	p := testPolicy
	p.AccountFailures = 1
	th := NewSignInThrottle(p)
	try(th, "a", "c1", t0, false)
	for range 10 {
		if ok, _, _ := th.Begin("a", "c2", t0); ok {
			th.Abandoned("a", "c2", t0)
		}
	}
	if ok, _ := th.pair.Reserve(pairKey("a", "c2"), t0); !ok {
		t.Fatal("refused attempts were left reserved on the pair")
	}
}
