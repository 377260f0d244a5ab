package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// An admin's first steps with the SDK: create a tenant and a heartbeat
// token for its cron, see the proxies that report, and tell an error
// answer by its problem type.
func Example() {
	// A hub of our own, in this process; use your hub's URL and a JWT
	// from `proxyhub jwt --role platform`.
	hubURL, platformJWT, stop := startExampleHub()
	defer stop()
	ctx := context.Background()

	hub, err := client.New(hubURL, client.WithToken(platformJWT))
	if err != nil {
		log.Fatal(err)
	}

	name := "Acme Corp"
	tenant, err := hub.CreateTenantWithResponse(ctx, client.TenantCreate{Id: "acme", Name: &name})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("tenant %s (%s), offline after %d s\n", tenant.JSON201.Id, tenant.JSON201.Name, tenant.JSON201.OfflineAfter)

	token, err := hub.CreateTokenWithResponse(ctx, "acme", client.TokenCreate{Label: "edge fleet"})
	if err != nil {
		log.Fatal(err)
	}
	// The secret is in this answer only: it goes into /etc/proxyhub/token.
	fmt.Printf("token %q: %t\n", token.JSON201.Label, strings.HasPrefix(token.JSON201.Token, "phb_"))

	// What cron sends from proxy edge-7 (here through a load balancer
	// that says the proxy is 203.0.113.7).
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hubURL+"/proxy_server?name=edge-7", nil)
	req.Header.Set("Authorization", "Bearer "+token.JSON201.Token)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()

	for p, err := range hub.Proxies(ctx, "acme", client.ListProxiesParams{}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.Name, p.RemoteIp, p.Status)
	}

	// An answer that is not 2xx is a *client.ProblemError.
	_, err = hub.CreateTenantWithResponse(ctx, client.TenantCreate{Id: "acme"})
	if pe, ok := client.AsProblem(err); ok && pe.Problem.Type == client.ProblemConflict {
		fmt.Println("again:", pe.StatusCode, pe.Problem.Type)
	}
	_, err = hub.GetTenantWithResponse(ctx, "initech")
	fmt.Println(err)

	// Output:
	// tenant acme (Acme Corp), offline after 80 s
	// token "edge fleet": true
	// edge-7 203.0.113.7 online
	// again: 409 urn:proxyhub:problem:conflict
	// 404 Not Found: not found
}

// startExampleHub starts a hub on the embedded store that trusts this
// process as its load balancer, and returns its URL, a platform JWT and
// how to stop it.
func startExampleHub() (url, platformJWT string, stop func()) {
	cfg, err := config.LoadServe(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		log.Fatal(err)
	}
	if cfg.TrustedProxies, err = clientip.ParseTrusted("127.0.0.1, ::1"); err != nil {
		log.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	store := memory.New()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Store: store, SigningKey: key})
	if err != nil {
		log.Fatal(err)
	}
	jwt, err := a.Signer.Sign("example", "", auth.RolePlatform, time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	return srv.URL, jwt, func() {
		srv.Close()
		cancel()
		_ = a.Close()
		_ = store.Close()
	}
}
