package s3_test

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// staticCreds returns throwaway keys for tests that never reach a server.
func staticCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKTEST", "SKTEST", "")
}
