package main

import (
	"fmt"
	"net/url"
	"testing"
)

// TestLookupByEmailAndCode: a coordinator finds a user by e-mail (any
// case) or by university code, alone or with the other filters; anyone
// finds a supervisor of the directory by e-mail; an unknown address is an
// empty list, and a list of users stays the coordinators'.
func TestLookupByEmailAndCode(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ids := map[string]string{}
	for i, who := range []struct{ email, code, role string }{
		{"find.me@uni.example", "ST1001", "student"}, {"other@uni.example", "ST1002", "student"},
		{"dr.found@uni.example", "SV2001", "supervisor"}, {"twin@uni.example", "ST1001", "examiner"},
	} {
		ids[who.email] = s.expect(s.do("POST", "/v1/users", admin, map[string]any{"email": who.email, "name": fmt.Sprint("Person ", i),
			"roles": []string{who.role}, "password": "lookup password", "profile": map[string]string{"code": who.code}}), 201).str("id")
	}
	listed := func(r response) (out []string) {
		for _, it := range r.items() {
			out = append(out, fmt.Sprint(it["id"]))
		}
		return out
	}
	for query, want := range map[string][]string{
		"email=" + url.QueryEscape(" Find.Me@UNI.example "): {ids["find.me@uni.example"]},
		"email=find.me@uni.example&role=student":            {ids["find.me@uni.example"]},
		"email=find.me@uni.example&role=supervisor":         nil,
		"email=find.me@uni.example&code=ST1002":             nil,
		"email=nobody@uni.example":                          nil,
		"code=SV2001":                                       {ids["dr.found@uni.example"]},
		"code=ST1001&role=examiner":                         {ids["twin@uni.example"]},
	} {
		got := listed(s.expect(s.do("GET", "/v1/users?"+query, admin, nil), 200))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("GET /v1/users?%s: %v, want %v", query, got, want)
		}
	}
	if got := listed(s.expect(s.do("GET", "/v1/users?code=ST1001", admin, nil), 200)); len(got) != 2 {
		t.Errorf("two users share the code ST1001; the list has %v", got)
	}
	student := s.signIn("find.me@uni.example", "lookup password")
	s.expect(s.do("GET", "/v1/users?email=find.me@uni.example", student, nil), 403, "forbidden")
	sup := s.expect(s.do("GET", "/v1/supervisors?email=DR.FOUND@uni.example", student, nil), 200).items()
	if len(sup) != 1 || sup[0]["id"] != ids["dr.found@uni.example"] || sup[0]["email"] != "dr.found@uni.example" {
		t.Errorf("the supervisor by e-mail: %v", sup)
	}
	for _, email := range []string{"find.me@uni.example", "nobody@uni.example"} { // not a supervisor, nobody
		if got := s.expect(s.do("GET", "/v1/supervisors?email="+email, student, nil), 200).items(); len(got) != 0 {
			t.Errorf("GET /v1/supervisors?email=%s: %v, want none", email, got)
		}
	}
	// Deleted, the user is no longer found by their address.
	s.expect(s.do("DELETE", "/v1/users/"+ids["other@uni.example"], admin, nil), 204)
	if got := listed(s.expect(s.do("GET", "/v1/users?email=other@uni.example", admin, nil), 200)); len(got) != 0 {
		t.Errorf("a deleted user is found by e-mail: %v", got)
	}
}
