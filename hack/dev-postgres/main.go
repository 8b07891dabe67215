/*
Copyright The Firescope Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command dev-postgres runs a throwaway PostgreSQL on loopback for trying the status page's
// replicas locally (docs/statuspage.md): Debian's postgresql (hack/install-test-deps.sh), in
// a temporary directory that is removed on Ctrl-C, with everything in it.
//
//	go run ./hack/dev-postgres
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"firescope.dev/firescope/internal/pgtest"
)

func main() {
	pg, err := pgtest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev-postgres:", err)
		os.Exit(1)
	}
	fmt.Printf("PostgreSQL is up; in the shells that run the status page:\n\n  export FIRESCOPE_STATUSPAGE_POSTGRES_URL='%s'\n\nCtrl-C stops it and deletes its data.\n", pg.URL())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	if err := pg.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "dev-postgres:", err)
		os.Exit(1)
	}
}
