"""Delivery to AWS service targets (``busbar serve --aws-targets``).

One small sender per kind of target, each behind busbar's
:class:`~busbar.delivery.base.Sender` interface and each calling one AWS API
through a shared :class:`~busbar.delivery.aws.clients.AwsClients`:

=========================  ===============================  =====================
target                     call                             module
=========================  ===============================  =====================
SQS queue                  ``SendMessage``                  :mod:`.sqs`
SNS topic                  ``Publish``                      :mod:`.sns`
Lambda function            ``Invoke`` (``Event``)           :mod:`.functions`
Kinesis stream             ``PutRecord``                    :mod:`.kinesis`
Firehose delivery stream   ``PutRecord``                    :mod:`.firehose`
Step Functions machine     ``StartExecution``               :mod:`.stepfunctions`
CloudWatch Logs log group  ``CreateLogStream``/``PutLogEvents``  :mod:`.logs`
bus of another account     ``PutEvents``                    :mod:`.eventbus`
or region
=========================  ===============================  =====================

A sender tries once and answers an outcome (:mod:`.errors` decides what is worth
retrying); retries, backoff and dead letters stay the dispatcher's business.
Senders know nothing of the store: a delivery carries all they need.
:func:`busbar.delivery.aws.senders.build_aws_senders` builds them for a server;
:mod:`.params` holds PutTargets' checks of AWS targets.
"""

from __future__ import annotations
