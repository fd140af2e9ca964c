package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// logLines returns the service's JSON log lines whose message is msg.
func logLines(s *service, msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestAuditTrail: who did what from where. Issuing a set-password token is
// recorded (by the coordinator, never the token); redeeming it is recorded
// as the token's holder acting as the user, naming the issue; failed
// sign-ins are logged with the client's address; a client's X-Request-Id is
// kept apart from the server's correlation id.
func TestAuditTrail(t *testing.T) {
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--trusted-proxies", "127.0.0.1/32")
	admin := s.admin()
	adminID := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	id := s.createUser(admin, "audited@uni.example", "Audited", []string{"student"}, "")

	issued := s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil, "X-Request-Id", "issue-1"), 201)
	token := issued.str("token")
	s.expect(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": "my audited password"},
		"X-Forwarded-For", "198.51.100.20"), 200)

	hist := s.expect(s.do("GET", "/v1/users/"+id+"/history", admin, nil), 200).items()
	if len(hist) != 3 {
		t.Fatalf("history %v, want created, token issued, password set", hist)
	}
	issue, set := hist[1], hist[2]
	actor, _ := issue["actor"].(map[string]any)
	data, _ := issue["data"].(map[string]any)
	if issue["type"] != "UserPasswordTokenIssued" || actor["user_id"] != adminID || data["expires_at"] != issued.str("expires_at") ||
		issue["correlation_id"] != issued.Header.Get("X-Request-Id") {
		t.Fatalf("the issue of the token: %v; want it by %s, expiring %s, under the server's request id %s",
			issue, adminID, issued.str("expires_at"), issued.Header.Get("X-Request-Id"))
	}
	actor, _ = set["actor"].(map[string]any)
	data, _ = set["data"].(map[string]any)
	if set["type"] != "UserPasswordSet" || actor["user_id"] != id || actor["via"] != "set-password-token" ||
		fmt.Sprint(data["token_version"]) != fmt.Sprint(issue["version"]) {
		t.Fatalf("the redemption: %v; want the token's holder as %s, via the token issued at version %v", set, id, issue["version"])
	}

	// The token appears in no event and no log line.
	if strings.Contains(storedEvents(t, s), token) || strings.Contains(s.logs.String(), token) {
		t.Fatal("the set-password token was stored in an event or logged")
	}

	// A failed sign-in is logged with the client's address (as the proxy saw it).
	s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "audited@uni.example", "password": "not my password"},
		"X-Forwarded-For", "203.0.113.7"), 401)
	failed := logLines(s, "sign-in failed: wrong e-mail or password")
	if len(failed) != 1 || failed[0]["client"] != "203.0.113.7" || failed[0]["email"] != "audited@uni.example" || failed[0]["request_id"] == "" {
		t.Fatalf("failed sign-ins logged: %v", failed)
	}

	// The access log says who, from where, under which ids.
	var line map[string]any
	for _, l := range logLines(s, "request") {
		if l["request_id"] == issued.Header.Get("X-Request-Id") {
			line = l
		}
	}
	if line == nil || line["user"] != adminID || line["client"] != "127.0.0.1" || line["client_request_id"] != "issue-1" {
		t.Fatalf("the access log line of the issue: %v", line)
	}
}
