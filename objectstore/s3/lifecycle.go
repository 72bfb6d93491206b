package s3

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"coffer/objectstore"
)

// ProbeLifecycle returns the bucket's enabled lifecycle rules that can act
// on this store's keys (GetBucketLifecycleConfiguration): rules whose
// prefix overlaps the store's and whose filter names no tag (coffer's
// objects carry none). supported is false when the server has no
// lifecycle rules at all (501 NotImplemented: versitygw); a bucket
// without a configuration is supported with no rules.
func (s *Store) ProbeLifecycle(ctx context.Context) (rules []objectstore.LifecycleRule, supported bool, err error) {
	out, err := s.client.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{
		Bucket: aws.String(s.cfg.Bucket)})
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchLifecycleConfiguration":
		return nil, true, nil
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "NotImplemented",
		errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusNotImplemented:
		return nil, false, nil
	case err != nil:
		return nil, false, translateError("get bucket lifecycle configuration", s.cfg.Bucket, err)
	}
	for _, r := range out.Rules {
		if r.Status != types.ExpirationStatusEnabled {
			continue
		}
		prefix, tagged := ruleFilter(r)
		if tagged || !(strings.HasPrefix(prefix, s.cfg.Prefix) || strings.HasPrefix(s.cfg.Prefix, prefix)) {
			continue
		}
		rule := objectstore.LifecycleRule{ID: aws.ToString(r.ID), Prefix: prefix}
		if e := r.Expiration; e != nil {
			rule.ExpirationDays = int(aws.ToInt32(e.Days))
			if rule.ExpirationDays == 0 && e.Date != nil {
				rule.ExpirationDays = -1 // a fixed date: expires whenever that comes
			}
		}
		if n := r.NoncurrentVersionExpiration; n != nil {
			rule.NoncurrentDays = int(aws.ToInt32(n.NoncurrentDays))
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			rule.AbortIncompleteDays = int(aws.ToInt32(a.DaysAfterInitiation))
		}
		rules = append(rules, rule)
	}
	return rules, true, nil
}

// ruleFilter is a rule's key prefix (from its filter, or the legacy
// top-level Prefix) and whether the filter also needs tags.
func ruleFilter(r types.LifecycleRule) (prefix string, tagged bool) {
	prefix = aws.ToString(r.Prefix) // deprecated in the API, but older configurations hold it
	f := r.Filter
	if f == nil {
		return prefix, false
	}
	if f.Prefix != nil {
		prefix = aws.ToString(f.Prefix)
	}
	if f.Tag != nil {
		tagged = true
	}
	if a := f.And; a != nil {
		if a.Prefix != nil {
			prefix = aws.ToString(a.Prefix)
		}
		tagged = tagged || len(a.Tags) > 0
	}
	return prefix, tagged
}
