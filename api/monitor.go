package api

import (
	"fmt"
	"net/http"
)

// MonitorHandler serves the plain-HTTP monitor port (-monitor-addr): GET
// /v1/leader and GET /healthz, nothing else. Load balancers and monitoring
// read leadership there without a client certificate of the cluster. Both
// answers are what anyone on the LAN can learn anyway (which node answers ARP
// for the VIPs); status details, membership and every write stay behind TLS.
func (s *Server) MonitorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /v1/leader", s.leader)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, withStatus(http.StatusNotFound,
			fmt.Errorf("%s %s is not served on the monitor port: only GET /v1/leader and GET /healthz", r.Method, r.URL.Path)))
	})
	return mux
}
