package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServe_MetricsOnTheirOwnAddressBehindAToken: with
// PROXYHUB_METRICS_ADDR the main address does not serve /metrics and the
// metrics address serves nothing else; PROXYHUB_METRICS_TOKEN guards it.
func TestServe_MetricsOnTheirOwnAddressBehindAToken(t *testing.T) {
	const token = "scrape-token-0123456789"
	base, stdout, stop := startHub(t, env("PROXYHUB_METRICS_ADDR", "127.0.0.1:0", "PROXYHUB_METRICS_TOKEN", token, "PROXYHUB_LOG_FORMAT", "json"))
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); metrics == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no metrics listener logged:\n%s", stdout)
		}
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			var line struct {
				Msg, Addr string
				Token     bool
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "metrics listening" && line.Token {
				metrics = "http://" + line.Addr
			}
		}
	}
	if strings.Contains(stdout.String(), token) {
		t.Error("the metrics token is in the log")
	}
	if code, _ := get(t, base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the main address: %d, want 404", code)
	}
	if code, _ := get(t, metrics+"/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	if code, _ := get(t, metrics+"/v1/tenants"); code != http.StatusNotFound {
		t.Errorf("the API on the metrics address: %d, want 404", code)
	}
	req, _ := http.NewRequest(http.MethodGet, metrics+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("/metrics with the token: %d", res.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
