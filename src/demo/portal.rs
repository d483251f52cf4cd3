//! The portal's own side of SMEV: a SOAP client that signs with the portal's key, for what the control API does
//! not do, namely answering the gateway's requests (the status pushes of `edugate demo`) and sending and collecting
//! lookups in the portal's process (the lookups benchmark, which must count the portal's signing apart from
//! mock-smev's CPU).
use crate::crypto::{Certificate, CryptoError, KeySource, PrivateKey};
use crate::dsig::{DsigError, Signer};
use crate::smev::client::{ClientConfig, ClientError, SmevClient};
use crate::smev::parse::{ReceivedRequest, ReceivedResponse};
use crate::smev::{KindOfData, MessageId, ResponseBody, SendRequest, SendResponse};
use std::path::Path;
use std::sync::Arc;

/// What can go wrong setting up the portal's SOAP side.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The portal's key or certificate could not be read.
    #[error("the portal's key or certificate: {0}")]
    Crypto(#[from] CryptoError),
    /// The key does not go with the certificate.
    #[error("the portal's signer: {0}")]
    Signer(#[from] DsigError),
    /// The SOAP client could not be set up, or a call failed.
    #[error(transparent)]
    Smev(#[from] ClientError),
}

/// The portal talking SOAP to SMEV (mock-smev) under its own signature.
pub struct SoapPortal {
    /// The SOAP client, signing with the portal's key.
    client: SmevClient,
}

impl SoapPortal {
    /// The portal at SMEV endpoint `endpoint` (`http://host:port/smev/1.3`), signing with `signer`.
    pub fn new(endpoint: &str, signer: Arc<Signer>) -> Result<SoapPortal, PortalError> {
        Ok(SoapPortal { client: SmevClient::new(ClientConfig::new(endpoint), signer)? })
    }

    /// The dev portal's signer, from `portal.key` and `portal.crt` in `certs` (the repository's `certs-dev/`).
    pub fn dev_signer(certs: &Path) -> Result<Arc<Signer>, PortalError> {
        let key = PrivateKey::load(&KeySource::PemFile(certs.join("portal.key")))?;
        Ok(Arc::new(Signer::new(key, Certificate::load(&certs.join("portal.crt"))?)?))
    }

    /// Sends `request` as the portal.
    pub async fn send(&self, request: &SendRequest) -> Result<(), PortalError> {
        self.client.send_request(request).await?;
        Ok(())
    }

    /// Takes the next response of `kind` waiting for the portal, if any, and acknowledges it.
    pub async fn collect(&self, kind: &KindOfData) -> Result<Option<ReceivedResponse>, PortalError> {
        let Some(response) = self.take_response(kind).await? else { return Ok(None) };
        self.acknowledge(&response).await?;
        Ok(Some(response))
    }

    /// Takes the next response of `kind` waiting for the portal, if any, without acknowledging it yet (a caller
    /// that times its arrival acknowledges it after, with [`SoapPortal::acknowledge`]).
    pub async fn take_response(&self, kind: &KindOfData) -> Result<Option<ReceivedResponse>, PortalError> {
        Ok(self.client.get_response(Some(kind)).await?.map(|received| received.message))
    }

    /// Acknowledges a response taken with [`SoapPortal::take_response`].
    pub async fn acknowledge(&self, response: &ReceivedResponse) -> Result<(), PortalError> {
        self.client.ack(response.metadata.message_id.as_deref().unwrap_or_default(), true).await?;
        Ok(())
    }

    /// Takes the next request of `kind` sent to the portal, if any, answers it with the content `answer` makes of
    /// it, and acknowledges it; returns the request.
    pub async fn answer_next(
        &self,
        kind: &KindOfData,
        answer: impl FnOnce(&ReceivedRequest) -> String,
    ) -> Result<Option<ReceivedRequest>, PortalError> {
        let Some(received) = self.client.get_request(Some(kind)).await? else { return Ok(None) };
        let request = received.message;
        let response = SendResponse {
            message_id: MessageId::new_v1(),
            to: request.reply_to.clone().unwrap_or_default(),
            body: ResponseBody::Content {
                content: answer(&request),
                personal_signature: None,
                attachment_headers: vec![],
            },
            attachments: vec![],
        };
        self.client.send_response(&response).await?;
        self.client.ack(request.metadata.message_id.as_deref().unwrap_or_default(), true).await?;
        Ok(Some(request))
    }
}
