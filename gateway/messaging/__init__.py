"""The NATS messaging API (`<prefix>.api.v1.>`): the nats.micro service, its endpoints, and the
AsyncAPI document generated from them."""
