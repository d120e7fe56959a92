// A Go net/http peer for scripts/bench: answers GET /health with the same
// JSON as nginx and our service, the way kube-proxy's healthz server does
// (net/http with a ServeMux, Content-Type and X-Content-Type-Options set by
// hand, status then body). Standard library only.
//
//	go run . 127.0.0.1:PORT
package main

import (
	"log"
	"net/http"
	"os"
	"time"
)

const body = `{"status":"ready","checks":[{"name":"kubelet","passed":true,"duration_ms":0}]}`

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: bench-peer-go 127.0.0.1:PORT")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(body + "\n"))
	})
	server := &http.Server{
		Addr:              os.Args[1],
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       15 * time.Second,
	}
	log.Fatal(server.ListenAndServe())
}
